import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { KeyQueue, SHARED, type Claim } from '../src/index.js';

// A release whose admitted callers the server names (read-write locks and semaphores on Redis):
// exactly those tickets are told, the rest sleep on.
const permit: Claim = Object.freeze({ kind: 'permits', permits: 1, limit: 4 });

describe('KeyQueue.notify with the tokens a release admits', () => {
  it('wakes exactly the named sleepers, marks a named ticket that is mid-attempt, and leaves the others alone', async () => {
    const queue = new KeyQueue();
    const woken: string[] = [];
    const tickets = ['a', 'b', 'c', 'd'].map((name) => {
      const t = queue.enqueue('k', permit, name);
      void t.sleep(60_000).then(() => woken.push(name));
      return t;
    });
    const awake = queue.enqueue('k', permit, 'e'); // its attempt is in flight
    const other = queue.enqueue('other', permit, 'b');
    void other.sleep(60_000).then(() => woken.push('other b'));
    queue.notify('k', ['b', 'd', 'e', 'not-here']);
    await sleep(5);
    expect(woken.sort()).toEqual(['b', 'd']);
    expect(awake.missed).toBe(true);
    expect(tickets.map((t) => t.missed)).toEqual([false, false, false, false]);
    // A named release is not kept as pending: a later sleeper is not woken by it.
    const late = queue.enqueue('k', permit, 'f');
    const startedAt = performance.now();
    await late.sleep(50);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(40);
    for (const t of [...tickets, awake, other, late]) {
      t.wake();
      t.leave(true);
    }
    expect(queue.keys).toBe(0);
  });

  it('an empty list wakes nobody and leaves nothing pending; one name works as a single token', async () => {
    const queue = new KeyQueue();
    const woken: string[] = [];
    for (const name of ['r1', 'r2']) {
      const t = queue.enqueue('k', SHARED, name);
      void t.sleep(60_000).then(() => woken.push(name));
    }
    queue.notify('k', []);
    await sleep(5);
    expect(woken).toEqual([]);
    queue.notify('k', ['r2']);
    await sleep(5);
    expect(woken).toEqual(['r2']);
    // Without tokens it works as before: the sleeping readers are woken together.
    queue.notify('k');
    await sleep(5);
    expect(woken).toEqual(['r2', 'r1']);
    queue.wakeAll();
  });
  it('a name that overtook the attempt of a caller not queued yet is kept, and ends its first sleep at once', async () => {
    const queue = new KeyQueue();
    queue.notify('k', 'mine'); // the release message came before our attempt's answer
    queue.notify('k2', ['x', 'y']); // another key's names are kept apart
    const other = queue.enqueue('k', undefined, 'someone-else');
    expect(other.missed).toBe(false);
    const mine = queue.enqueue('k', undefined, 'mine');
    expect(mine.missed).toBe(true);
    const startedAt = performance.now();
    await mine.sleep(60_000);
    expect(performance.now() - startedAt).toBeLessThan(1_000);
    // Used once: a later caller with the same token (none should exist) is not told again.
    expect(queue.enqueue('k', undefined, 'mine').missed).toBe(false);
    expect(queue.enqueue('k2', undefined, 'y').missed).toBe(true);
  });
  it('an unnamed release that found nobody queued ends the first sleep of a caller whose attempt it may have overtaken, not of a later one', async () => {
    const queue = new KeyQueue();
    const before = queue.epoch; // read before the attempt is sent
    queue.notify('k'); // released while the attempt was on its way (nobody queued here)
    queue.notify('k3');
    const after = queue.epoch; // a caller whose attempt started after the release
    const overtaken = queue.enqueue('k', undefined, 't1', before);
    expect(overtaken.missed).toBe(true);
    const startedAt = performance.now();
    await overtaken.sleep(60_000);
    expect(performance.now() - startedAt).toBeLessThan(1_000);
    expect(queue.enqueue('k', undefined, 't2', after).missed).toBe(false);
    expect(queue.enqueue('k2', undefined, 't3', before).missed).toBe(false); // another key
    // Without an epoch (the keyed mutex, etcd's slots) nothing changes.
    expect(queue.enqueue('k', undefined, 't4').missed).toBe(false);
    queue.wakeAll();
  });
});
