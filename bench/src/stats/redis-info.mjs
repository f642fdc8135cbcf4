// Redis server counters: INFO commandstats (calls per command) and the server version.

/** `{ command: calls }` from INFO commandstats, e.g. `{ evalsha: 10000, set: 3 }`. */
export async function commandCalls(client) {
  const text = await client.info('commandstats');
  const calls = {};
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]] = Number(m[2]);
  return calls;
}

/** Calls per command between two {@link commandCalls} snapshots (commands with no calls left out). */
export function callsBetween(before, after) {
  const delta = {};
  for (const [cmd, n] of Object.entries(after)) {
    const d = n - (before[cmd] ?? 0);
    if (d > 0) delta[cmd] = d;
  }
  return delta;
}

/** `redis_version` from INFO server. */
export async function redisVersion(client) {
  const text = await client.info('server');
  return /^redis_version:(\S+)/m.exec(text)?.[1] ?? 'unknown';
}
