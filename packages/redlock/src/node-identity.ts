import { isIPv6 } from 'node:net';

/**
 * Which Redis server a Redlock node names, worked out from what the caller passed, without any
 * I/O (no DNS): `localhost:6379`, `[fd00::1]:6380`, `unix:/run/redis.sock`, or
 * `sentinel:<master name>@<sorted sentinel addresses>`. Two nodes with the same server are one
 * failure domain, so Redlock refuses them (see `validate-nodes.ts`).
 *
 * The rules follow how ioredis reads the same input: a URL without a port means 6379, options
 * without a host mean `localhost`; a unix socket `path` wins over host and port. The database
 * number is not part of the server: two databases of one server fail together.
 */

/** Host names that all reach this machine's loopback interface: treated as one host. */
const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1']);

const DEFAULT_PORT = 6379;

/**
 * The server named by a node given as a string (a `redis://` / `rediss://` URL, a URL without
 * scheme such as `10.0.0.1:6379`, a bare port, or a unix socket path). Throws a `TypeError`
 * saying what is wrong when ioredis could not connect to it either.
 */
export function serverOfUrl(url: string): string {
  if (/^\d+$/.test(url)) return address('localhost', url);
  if (url.startsWith('/') && !url.startsWith('//')) {
    const query = url.indexOf('?');
    return `unix:${query === -1 ? url : url.slice(0, query)}`;
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1];
  if (scheme !== undefined && !/^rediss?$/i.test(scheme)) {
    throw new TypeError(`the scheme "${scheme}:" is not redis: or rediss:`);
  }
  let parsed: URL;
  try {
    parsed = new URL(scheme !== undefined ? url : url.startsWith('//') ? `redis:${url}` : `redis://${url}`);
  } catch {
    throw new TypeError('it is not a valid URL');
  }
  return address(parsed.hostname, parsed.port);
}

/**
 * The server named by ioredis options (also a client's `options`), or `undefined` when they
 * name none this module understands (then only the object itself identifies the node).
 */
export function serverOfOptions(options: unknown): string | undefined {
  if (typeof options !== 'object' || options === null) return undefined;
  const o = options as { host?: unknown; port?: unknown; path?: unknown; sentinels?: unknown; name?: unknown };
  if (Array.isArray(o.sentinels) && o.sentinels.length > 0) {
    // A master found through Sentinel: the same master name under the same sentinels is the same server.
    const sentinels = o.sentinels.map((s: unknown) => serverOfOptions(s) ?? '?').sort();
    return `sentinel:${typeof o.name === 'string' ? o.name : 'mymaster'}@${sentinels.join(',')}`;
  }
  if (typeof o.path === 'string' && o.path !== '') return `unix:${o.path}`;
  if (o.host !== undefined && typeof o.host !== 'string') return undefined;
  if (o.port !== undefined && typeof o.port !== 'number' && typeof o.port !== 'string') return undefined;
  return address(o.host ?? 'localhost', o.port === undefined ? '' : String(o.port));
}

/** The server an ioredis client object is connected to, from its `options` when it has them. */
export function serverOfClient(client: object): string | undefined {
  return serverOfOptions((client as { options?: unknown }).options);
}

/** `host:port` with the host normalised (lower case, loopback names merged, IPv6 compressed). */
function address(host: string, port: string): string {
  const h = normaliseHost(host);
  const p = port === '' ? DEFAULT_PORT : Number.parseInt(port, 10);
  return `${isIPv6(h) ? `[${h}]` : h}:${p}`;
}

function normaliseHost(host: string): string {
  let h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (h === '') h = 'localhost';
  if (isIPv6(h)) {
    // `0:0:0:0:0:0:0:1` and `::1` are one address: let the URL parser compress it.
    h = new URL(`redis://[${h}]`).hostname.slice(1, -1);
  }
  return LOOPBACK.has(h) ? 'localhost' : h;
}
