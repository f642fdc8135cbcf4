// The raw Redlock protocol over N independent nodes, the physical limit for the Redlock rows:
// SET NX PX on every node in parallel, held with a quorum (N/2+1). Otherwise undo on the nodes
// that said yes; after a split vote retry within a few random ms, and when another process
// holds it sleep until a release message (pub/sub on every node, deduplicated by token, wake-one
// per process) or 100 ms. Release = owner-checked delete + PUBLISH on every node.
// No validity arithmetic, no fencing, no per-node timeouts.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { rawClient } from './redis.mjs';
import { WakeQueue } from './wake-queue.mjs';

export async function rawRedlock({ env, nodes }) {
  const urls = env.redisNodeUrls.slice(0, nodes);
  const clients = urls.map(rawClient);
  const subscribers = urls.map((url) => new Redis(url).on('error', () => undefined));
  const quorum = Math.floor(urls.length / 2) + 1;
  const wakes = new WakeQueue();
  const recent = new Set(); // tokens whose release already woke a waiter here
  const onMessage = (channel, token) => {
    if (recent.has(token)) return;
    recent.add(token);
    if (recent.size > 256) recent.delete(recent.values().next().value);
    wakes.wake(channel.slice(0, -':released'.length));
  };
  for (const s of subscribers) s.on('message', onMessage);
  const subscribed = new Map();
  const subscribe = (key) => {
    let p = subscribed.get(key);
    if (p === undefined) subscribed.set(key, (p = Promise.all(subscribers.map((s) => s.subscribe(`${key}:released`)))));
    return p;
  };
  await Promise.all(clients.map((c) => c.ping()));
  return {
    async acquire(key, ttl) {
      const token = randomUUID();
      let first = true;
      for (;;) {
        const replies = await Promise.all(clients.map((c) => c.set(key, token, 'PX', ttl, 'NX').catch(() => null)));
        const yes = replies.filter((r) => r === 'OK').length;
        if (yes >= quorum) {
          return () => Promise.all(clients.map((c) => c.rawReleasePublish(key, `${key}:released`, token).catch(() => 0)));
        }
        if (yes > 0) {
          // A split vote (nobody has a quorum): undo, and retry after a random few ms.
          await Promise.all(clients.map((c, i) => (replies[i] === 'OK' ? c.rawRelease(key, token) : 0)));
          await new Promise((r) => setTimeout(r, Math.random() * 5));
          continue;
        }
        if (first) {
          first = false;
          await subscribe(key);
          continue;
        }
        await wakes.wait(key, 100);
      }
    },
    async close() {
      await Promise.allSettled([...clients, ...subscribers].map((c) => c.quit()));
      for (const c of [...clients, ...subscribers]) c.disconnect();
    },
  };
}
