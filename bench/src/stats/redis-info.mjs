// Redis server counters: INFO commandstats (calls per command) and the server version.
import { Redis } from 'ioredis';

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

/** EVAL and EVALSHA calls and their server time (µs) from INFO commandstats. */
async function scriptCounters(client) {
  const text = await client.info('commandstats');
  let calls = 0;
  let usec = 0;
  for (const m of text.matchAll(/^cmdstat_(?:eval|evalsha):calls=(\d+),usec=(\d+)/gm)) {
    calls += Number(m[1]);
    usec += Number(m[2]);
  }
  return { calls, usec };
}

/**
 * The scripts Redis ran (calls, server µs) between `startAtUs` and `windowMs` later, read on a
 * connection of its own; `sleepUntil(atUs)` waits for a moment of the bench's clock.
 */
export async function scriptCost(url, startAtUs, windowMs, sleepUntil) {
  const client = new Redis(url).on('error', () => undefined);
  try {
    await client.ping();
    await sleepUntil(startAtUs);
    const before = await scriptCounters(client);
    await sleepUntil(startAtUs + windowMs * 1000);
    const after = await scriptCounters(client);
    return { calls: after.calls - before.calls, usec: after.usec - before.usec };
  } finally {
    client.disconnect();
  }
}
