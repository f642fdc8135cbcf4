import { describe, expect, it } from 'vitest';
import { gather, mostCommon, quorumOf, retryAfterContention, type ContentionView } from '../src/quorum.js';

describe('quorum arithmetic', () => {
  it('a quorum is a strict majority', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(quorumOf)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });

  it('gather resolves as soon as the outcome is decided, without waiting for slow nodes', async () => {
    const never = new Promise<number>(() => {});
    // Decided within the same turn of the event loop (microtasks only): it settles before even
    // a 0 ms timer fires, however loaded the machine is. Waiting for the slow nodes would never end.
    const outcomes = await Promise.race([
      gather(
        5,
        (i) => (i < 3 ? Promise.resolve(i) : never),
        (known) => known.filter((o) => o?.ok).length >= 3,
      ),
      new Promise<'a timer fired first'>((resolve) => setTimeout(() => resolve('a timer fired first'), 0)),
    ]);
    expect(outcomes).not.toBe('a timer fired first');
    if (typeof outcomes === 'string') return;
    expect(outcomes.map((o) => (o?.ok ? o.value : undefined))).toEqual([0, 1, 2, undefined, undefined]);
  });

  it('gather turns throws and rejections into outcomes, never a rejection', async () => {
    const outcomes = await gather(3, (i) => {
      if (i === 0) throw new Error('sync');
      return i === 1 ? Promise.reject(new Error('async')) : Promise.resolve('ok');
    });
    expect(outcomes.map((o) => (o?.ok ? o.value : o?.error.message))).toEqual(['sync', 'async', 'ok']);
  });

  it('mostCommon prefers the value most nodes agree on, then the larger', () => {
    expect(mostCommon([5n, 7n, 5n])).toBe(5n);
    expect(mostCommon([5n, 7n])).toBe(7n);
    expect(mostCommon([])).toBeUndefined();
  });
});

describe('retryAfterContention', () => {
  const view = (v: Partial<ContentionView>): ContentionView => ({
    quorum: 3,
    taken: 0,
    refusals: [],
    unreachable: 0,
    releasing: new Set(),
    retryDelay: 50,
    random: () => 0.5,
    ...v,
  });
  const held = (holder: string, ...pttls: number[]) => pttls.map((pttl) => ({ holder, pttl }));

  it('a holder with a quorum: wait until enough of its leases end (the needed-th shortest)', () => {
    expect(retryAfterContention(view({ refusals: held('h', 900, 100, 500, 700, 300) }))).toBe(500);
    // Two nodes already free: one more lease must end.
    expect(retryAfterContention(view({ taken: 2, refusals: held('h', 900, 100, 500) }))).toBe(100);
  });

  it('a holder that may own a quorum through unreachable nodes is still waited for', () => {
    expect(retryAfterContention(view({ taken: 1, unreachable: 2, refusals: held('h', 400, 800) }))).toBe(800);
  });

  it('a split vote (nobody can hold a quorum): retry soon, at a random moment', () => {
    const refusals = [...held('a', 9_000, 9_000), ...held('b', 9_000)];
    expect(retryAfterContention(view({ taken: 2, refusals }))).toBe(25);
    expect(retryAfterContention(view({ taken: 2, refusals, random: () => 0 }))).toBe(0);
  });

  it('a holder whose release was announced counts as leaving: retry soon', () => {
    const refusals = held('h', 9_000, 9_000, 9_000);
    expect(retryAfterContention(view({ refusals }))).toBe(9_000);
    expect(retryAfterContention(view({ refusals, releasing: new Set(['h']) }))).toBe(25);
  });

  it('unknown bounds (leases without expiry, or too many silent nodes) give -1', () => {
    expect(retryAfterContention(view({ refusals: held('h', -1, -1, -1) }))).toBe(-1);
    expect(retryAfterContention(view({ taken: 0, unreachable: 2, refusals: held('h', 100, 200) }))).toBe(-1);
  });
});
