import { setTimeout as sleep } from 'node:timers/promises';
import {
  LockAcquireTimeoutError,
  LockBackendError,
  type LockEngineOptions,
  type DistributedLock,
  type LockHandle,
} from '@dlock/core';
import { afterEach, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../safety/proxy.js';
import { uniqueKey } from '../util.js';
import type { LockFactory, OutageFixture } from './types.js';

/** Every message in an error's `cause` chain, joined: what a user reading the error would see. */
function causeChain(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    parts.push(e.message);
    if (e instanceof AggregateError) for (const inner of e.errors) parts.push(causeChain(inner));
  }
  return parts.join(' <- ');
}

/**
 * How `lock()` behaves when the backend goes away: the same on every backend. The servers stay
 * up; loopback proxies in front of them refuse connections (as a crashed or restarting server
 * does) and come back.
 */
export function outageContractSuite(name: string, direct: LockFactory, fixture: OutageFixture): void {
  describe(`${name}: outage contract`, () => {
    const opened: DistributedLock[] = [];
    const proxies: TcpProxy[] = [];
    const viaProxies = async (options: LockEngineOptions = {}): Promise<{ lock: DistributedLock; down: () => Promise<void>; up: () => Promise<void> }> => {
      const started = await Promise.all(fixture.servers().map((s) => startTcpProxy({ port: s.port })));
      proxies.push(...started);
      const lock = await fixture.factory(
        started.map((p) => p.port),
        options,
      );
      opened.push(lock);
      return {
        lock,
        down: async () => void (await Promise.all(started.map((p) => p.down()))),
        up: async () => void (await Promise.all(started.map((p) => p.up()))),
      };
    };
    // A failure may take one call timeout to be noticed; then the loaded machine's slack.
    const slack = (): number => fixture.callTimeoutMs + 5_000;

    afterEach(async () => {
      await Promise.allSettled(opened.splice(0).map((l) => l.close()));
      await Promise.allSettled(proxies.splice(0).map((p) => p.stop()));
    });

    it('a waiting lock() rides out an outage shorter than its waitTimeout and acquires', async () => {
      const holder = await direct();
      opened.push(holder);
      const { lock: waiter, down, up } = await viaProxies();
      const key = uniqueKey();
      const held = await holder.lock(key, { ttl: 60_000 });
      const waiting = waiter.lock(key, { ttl: 20_000, waitTimeout: 20_000 }).catch((e: unknown) => e);
      await sleep(300); // the waiter tried, found the key held, and sleeps
      await down();
      await held.release(); // the waiter cannot hear of it
      await sleep(2_500); // longer than one call timeout: its retries fall inside the outage
      const restored = performance.now();
      await up();
      const result = await waiting;
      if (!(result instanceof Error)) await (result as LockHandle).release();
      expect(result instanceof Error ? causeChain(result) : 'acquired').toBe('acquired');
      // Woken by the reconnect or by its next backoff retry (at most maxRetryDelay apart).
      expect(performance.now() - restored).toBeLessThan(slack() + 5_000);
    });

    it('lock() with a waitTimeout gives up at the deadline with the backend failure as cause', async () => {
      const { lock, down } = await viaProxies();
      await down();
      const started = performance.now();
      const error = await lock.lock(uniqueKey(), { waitTimeout: 1_500 }).catch((e: unknown) => e);
      const took = performance.now() - started;
      expect(error).toBeInstanceOf(LockAcquireTimeoutError);
      expect((error as Error).cause).toBeInstanceOf(LockBackendError);
      expect(causeChain(error)).toMatch(/ECONNREFUSED/);
      expect(took).toBeGreaterThanOrEqual(1_450);
      expect(took).toBeLessThan(1_500 + slack());
    });

    it('lock() without a waitTimeout gives up after unavailableTimeout with a LockBackendError naming the failure', async () => {
      const { lock, down } = await viaProxies({ unavailableTimeout: 1_000 });
      await down();
      const started = performance.now();
      const error = await lock.lock(uniqueKey()).catch((e: unknown) => e);
      const took = performance.now() - started;
      expect(error).toBeInstanceOf(LockBackendError);
      expect((error as Error).message).toMatch(/unavailable for \d+ ms, \d+ attempts/);
      expect(causeChain(error)).toMatch(/ECONNREFUSED/);
      expect(took).toBeGreaterThanOrEqual(950);
      expect(took).toBeLessThan(1_000 + slack());
    });

    it('tryLock during an outage rejects with LockBackendError (not null), and works once the server is back', async () => {
      const { lock, down, up } = await viaProxies();
      const key = uniqueKey();
      await down();
      const started = performance.now();
      const error = await lock.tryLock(key).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LockBackendError);
      expect(performance.now() - started).toBeLessThan(slack());
      await up();
      // The client reconnects in the background; the first attempts may still fail.
      const h = await lock.lock(key, { waitTimeout: slack() });
      expect(h.held).toBe(true);
      await h.release();
    });
  });
}
