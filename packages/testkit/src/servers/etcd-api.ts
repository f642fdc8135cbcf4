import http from 'node:http';

/** What `/v3/maintenance/status` answers (the fields the harness reads; uint64s come as strings). */
export interface EtcdStatus {
  header: { member_id: string; cluster_id: string; raft_term?: string };
  leader: string;
  raftTerm?: string;
}

/** One entry of `/v3/cluster/member/list`. */
export interface EtcdMember {
  ID: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
}

/**
 * POST/GET JSON to an etcd member's HTTP gateway. A fresh connection per call (agent: false):
 * pooled keep-alive sockets to a killed or paused member would only produce confusing errors.
 */
export function etcdRequest<T>(port: number, method: 'GET' | 'POST', path: string, body: unknown, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const request = http.request(
      { host: '127.0.0.1', port, method, path, agent: false, headers: payload === undefined ? {} : { 'content-type': 'application/json' } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          clearTimeout(timer);
          if (response.statusCode !== 200) {
            reject(new Error(`etcd 127.0.0.1:${port} ${method} ${path}: HTTP ${response.statusCode ?? '?'} ${text.trim()}`));
            return;
          }
          try {
            resolve(JSON.parse(text) as T);
          } catch (error) {
            reject(new Error(`etcd 127.0.0.1:${port} ${method} ${path}: not JSON: ${text.slice(0, 200)}`, { cause: error }));
          }
        });
        response.on('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      },
    );
    const timer = setTimeout(() => request.destroy(new Error(`etcd 127.0.0.1:${port} ${method} ${path}: no answer within ${timeoutMs} ms`)), timeoutMs);
    request.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.end(payload);
  });
}

/** One readiness probe: true when `GET /health` answers `{"health":"true"}`. */
export async function etcdHealthy(port: number, timeoutMs = 1_000): Promise<boolean> {
  try {
    const health = await etcdRequest<{ health?: unknown }>(port, 'GET', '/health', undefined, timeoutMs);
    return health.health === 'true';
  } catch {
    return false;
  }
}

/** `POST /v3/maintenance/status` on one member. */
export function etcdStatus(port: number, timeoutMs = 1_000): Promise<EtcdStatus> {
  return etcdRequest<EtcdStatus>(port, 'POST', '/v3/maintenance/status', {}, timeoutMs);
}

/** The cluster's members as seen by the member on `port`. */
export async function etcdMemberList(port: number, timeoutMs = 2_000): Promise<EtcdMember[]> {
  const list = await etcdRequest<{ members?: EtcdMember[] }>(port, 'POST', '/v3/cluster/member/list', {}, timeoutMs);
  return list.members ?? [];
}

/** Removes a member (by its uint64 id, as a string) through the member on `port`. */
export async function etcdMemberRemove(port: number, id: string, timeoutMs = 5_000): Promise<void> {
  await etcdRequest<unknown>(port, 'POST', '/v3/cluster/member/remove', { ID: id }, timeoutMs);
}

/** Adds a member with the given peer URL through the member on `port`; returns the updated list. */
export async function etcdMemberAdd(port: number, peerUrl: string, timeoutMs = 5_000): Promise<EtcdMember[]> {
  const added = await etcdRequest<{ members?: EtcdMember[] }>(port, 'POST', '/v3/cluster/member/add', { peerURLs: [peerUrl] }, timeoutMs);
  return added.members ?? [];
}
