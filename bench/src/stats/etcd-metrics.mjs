// etcd's Prometheus endpoint: gRPC messages received (every unary request and every stream
// message: txn, range, lease grant/revoke, keep-alives, watch creates/cancels), and the version.
import http from 'node:http';

function get(url, timeoutMs = 5_000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** `{ total, byMethod: { Txn: n, LeaseKeepAlive: n, ... } }`: gRPC messages etcd has received. */
export async function etcdRequests(endpoint) {
  const text = await get(`${endpoint}/metrics`);
  const byMethod = {};
  let total = 0;
  for (const m of text.matchAll(/^grpc_server_msg_received_total\{([^}]*)\}\s+(\S+)/gm)) {
    const method = /grpc_method="([^"]+)"/.exec(m[1])?.[1] ?? '?';
    const n = Number(m[2]);
    byMethod[method] = (byMethod[method] ?? 0) + n;
    total += n;
  }
  return { total, byMethod };
}

/** Requests between two {@link etcdRequests} snapshots. */
export function requestsBetween(before, after) {
  const byMethod = {};
  for (const [method, n] of Object.entries(after.byMethod)) {
    const d = n - (before.byMethod[method] ?? 0);
    if (d > 0) byMethod[method] = d;
  }
  return { total: after.total - before.total, byMethod };
}

/** The server version from `/version`. */
export async function etcdVersion(endpoint) {
  return JSON.parse(await get(`${endpoint}/version`)).etcdserver ?? 'unknown';
}
