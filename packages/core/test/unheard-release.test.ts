import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  LockEngine,
  type AcquireRequest,
  type AcquireResult,
  type DriverFeatures,
  type DriverHost,
  type LockDriver,
} from '../src/index.js';

/**
 * A driver whose answers the test writes, with a release feed that does not name the next caller
 * (as PostgreSQL's claims, etcd and `fair: false` Redis do): the test calls `host.released`.
 */
class ScriptedDriver implements LockDriver<undefined> {
  readonly backend = 'scripted';
  readonly capabilities = Object.freeze({ ttlGranularityMs: 1, minTtlMs: 1, fencing: 'strict' as const });
  readonly features: DriverFeatures<undefined> = Object.freeze({
    claims: ['exclusive'] as const,
    releaseFeed: Object.freeze({ watch: async () => undefined, unwatch: () => undefined }),
  });
  host!: DriverHost<undefined>;
  readonly answers: Array<() => Promise<AcquireResult<undefined>>> = [];
  attempts = 0;
  #fence = 0n;
  attach(host: DriverHost<undefined>): void {
    this.host = host;
  }
  acquire(_request: AcquireRequest): Promise<AcquireResult<undefined>> {
    this.attempts++;
    const next = this.answers.shift();
    return next === undefined ? Promise.resolve(this.granted()) : next();
  }
  granted(): AcquireResult<undefined> {
    return { acquired: true, fencingToken: ++this.#fence, data: undefined };
  }
  release = async () => true;
  renew = async () => true;
  renewMany = async (locks: readonly unknown[]) => locks.map(() => true);
  abandon(): void {}
  inspect = async () => null;
  isTransient = () => false;
  close = async () => undefined;
}

const held = (): Promise<AcquireResult<undefined>> => Promise.resolve({ acquired: false, retryAfter: 60_000 });

describe('a release that overtakes a waiter’s first attempt', () => {
  it('wakes it when it queues, though nobody was queued to hear the release and its subscription was not new', async () => {
    const driver = new ScriptedDriver();
    // maxRetryDelay also keeps a key's subscription that long after its last waiter.
    const lock = new LockEngine(driver, { maxRetryDelay: 30_000 }, { names: [], what: 'new ScriptedLock()' });
    // A first waiter leaves the key's subscription lingering: the next waiter's is not new, so it
    // does not check again after subscribing.
    driver.answers.push(held, held);
    const first = lock.lock('k', { ttl: 5_000, waitTimeout: 5_000 });
    while (driver.attempts < 2) await sleep(5);
    driver.host.released('k');
    await (await first).release();

    // The second waiter's attempt is on its way when the holder's release is heard.
    let answer!: (result: AcquireResult<undefined>) => void;
    driver.answers.push(() => new Promise((resolve) => (answer = resolve)));
    const attemptsBefore = driver.attempts;
    const started = performance.now();
    const second = lock.lock('k', { ttl: 5_000, waitTimeout: 3_000 });
    while (driver.attempts === attemptsBefore) await sleep(1);
    driver.host.released('k'); // nobody queued here yet
    answer({ acquired: false, retryAfter: 60_000 }); // answered before the release: "held for 60 s"
    const h = await second;
    // Woken at once, not after the 60 s it was told (nor a LockAcquireTimeoutError at 3 s).
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(driver.attempts).toBe(attemptsBefore + 2);
    await h.release();
    await lock.close();
  });
});
