import { describe, expect, it } from 'vitest';
import { abortableDelay, withJitter } from '../src/sleep.js';

function busy(ms: number): void {
  const start = performance.now();
  while (performance.now() - start < ms) {
    // a turn of the event loop that runs this long leaves the loop's cached clock this stale
  }
}

describe('abortableDelay', () => {
  it('waits at least the asked time even when the event loop turn has already run a while', async () => {
    let shortest = Infinity;
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 0)); // a fresh loop turn, clock cached at its start
      busy(0.9);
      const start = performance.now();
      await abortableDelay(1);
      shortest = Math.min(shortest, performance.now() - start);
    }
    // A bare setTimeout(1) here fires ~0.1-0.2 ms after the call.
    expect(shortest).toBeGreaterThanOrEqual(0.99);
  });

  it('rejects with the abort reason, at once or while waiting, and leaves no listener', async () => {
    const early = new AbortController();
    early.abort(new Error('before'));
    await expect(abortableDelay(10, early.signal)).rejects.toThrow('before');

    const late = new AbortController();
    const started = performance.now();
    const waiting = abortableDelay(60_000, late.signal);
    setTimeout(() => late.abort(new Error('during')), 5);
    await expect(waiting).rejects.toThrow('during');
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe('withJitter', () => {
  it('adds between 0 and the fraction of the delay, capped', () => {
    for (let i = 0; i < 100; i++) {
      const ms = withJitter(100, 0.1, 50);
      expect(ms).toBeGreaterThanOrEqual(100);
      expect(ms).toBeLessThanOrEqual(110);
      expect(withJitter(10_000, 0.5, 50)).toBeLessThanOrEqual(10_050);
    }
  });
});
