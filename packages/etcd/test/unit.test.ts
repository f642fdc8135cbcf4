import { InvalidOptionError, LockEngine } from '@dlock/core';
import { EtcdError, EtcdLeaseInvalidError, GRPCDeadlineExceededError, GRPCUnavailableError, type CallContext } from 'etcd3';
import { describe, expect, it } from 'vitest';
import {
  defaultEtcdLockOptions,
  EtcdLeaseLostError,
  EtcdLock,
  EtcdMutex,
  etcdClientOptions,
  isTransientEtcdError,
  type EtcdLockBase,
} from '../src/index.js';
import { isQueueEntry, leaseHex, leaseSentinelKey, prefixRangeEnd } from '../src/keys.js';

// No server needed: the client configuration and the key layout.

const unary: CallContext = { service: 'KV', method: 'txn', params: {}, isStream: false } as unknown as CallContext;

describe('etcdClientOptions', () => {
  it('gives every attempt of a unary call its own deadline, and streams none', () => {
    const o = etcdClientOptions({ hosts: 'http://127.0.0.1:1' }, { callTimeout: 1_500 });
    const factory = o.defaultCallOptions as (c: CallContext) => { deadline?: number };
    // callTimeout from the moment of the call: bracketed by clock readings, exact however slow.
    const before = Date.now();
    const first = factory(unary).deadline!;
    const after = Date.now();
    expect(first).toBeGreaterThanOrEqual(before + 1_500);
    expect(first).toBeLessThanOrEqual(after + 1_500);
    expect(factory({ ...unary, isStream: true } as CallContext).deadline).toBeUndefined();
  });

  it('retries transient errors (each attempt anew) and nothing else; never blocks a member', async () => {
    const o = etcdClientOptions({ hosts: 'http://127.0.0.1:1' }, { attempts: 4 });
    const global = o.faultHandling!.global!;
    let calls = 0;
    const value = await global.execute(() => {
      calls++;
      if (calls < 3) throw new GRPCUnavailableError('etcdserver: leader changed');
      return 'ok';
    });
    expect(value).toBe('ok');
    expect(calls).toBe(3);

    calls = 0;
    const refused = await global
      .execute(() => {
        calls++;
        throw new EtcdLeaseInvalidError('1');
      })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(EtcdLeaseInvalidError);
    expect(calls).toBe(1);

    calls = 0;
    const exhausted = await global
      .execute(() => {
        calls++;
        throw new GRPCDeadlineExceededError('deadline');
      })
      .catch((e: unknown) => e);
    expect(exhausted).toBeInstanceOf(GRPCDeadlineExceededError);
    expect(calls).toBe(4);

    // The per-member policy lets every call through, even after many failures.
    const host = o.faultHandling!.host!('127.0.0.1:1');
    for (let i = 0; i < 10; i++) await host.execute(() => Promise.reject(new GRPCUnavailableError('down'))).catch(() => undefined);
    expect(await host.execute(() => 'through')).toBe('through');
  });

  it('with several hosts, gives each attempt half the callTimeout: a paused member leaves time for another', () => {
    const o = etcdClientOptions({ hosts: ['http://127.0.0.1:1', 'http://127.0.0.1:2'] }, { callTimeout: 2_000 });
    const deadline = (o.defaultCallOptions as (c: CallContext) => { deadline: number })(unary).deadline;
    expect(deadline - Date.now()).toBeGreaterThan(900);
    expect(deadline - Date.now()).toBeLessThanOrEqual(1_000);
  });

  it('stops retrying once callTimeout is spent, naming the last failure (also its cause)', async () => {
    const global = etcdClientOptions({ hosts: 'http://127.0.0.1:1' }, { callTimeout: 300, attempts: 1_000 }).faultHandling!.global!;
    let calls = 0;
    let startedAt = performance.now();
    const refused = new GRPCUnavailableError('No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1');
    const failing = await global
      .execute(() => {
        calls++;
        throw refused;
      })
      .catch((e: unknown) => e);
    expect(performance.now() - startedAt).toBeLessThan(300 + 1_000);
    expect(calls).toBeGreaterThan(1);
    expect(calls).toBeLessThan(1_000);
    expect(failing).toBeInstanceOf(GRPCUnavailableError);
    expect((failing as Error).message).toMatch(/callTimeout \(300 ms, \d+ attempts\); last error: .*ECONNREFUSED/);
    expect((failing as Error).cause).toBe(refused);
    expect(isTransientEtcdError(failing)).toBe(true);

    // An attempt that never answers is abandoned at callTimeout.
    startedAt = performance.now();
    const silent = await global.execute(() => new Promise<never>(() => undefined)).catch((e: unknown) => e);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(290);
    expect(performance.now() - startedAt).toBeLessThan(300 + 1_000);
    expect((silent as Error).message).toMatch(/no answer within callTimeout \(300 ms, 1 attempt\)$/);
  });

  it("keeps the caller's options", () => {
    const mine = () => ({});
    const o = etcdClientOptions({ hosts: ['a', 'b'], defaultCallOptions: mine, faultHandling: { watchBackoff: undefined } });
    expect(o.hosts).toEqual(['a', 'b']);
    expect(o.defaultCallOptions).toBe(mine);
    expect(o.faultHandling!.global).toBeDefined();
  });

  it('classifies etcd3 errors by class (they all have name "Error")', () => {
    expect(new GRPCUnavailableError('x').name).toBe('Error');
    expect(isTransientEtcdError(new GRPCUnavailableError('x'))).toBe(true);
    expect(isTransientEtcdError(new EtcdError('etcdserver: mvcc: required revision has been compacted'))).toBe(false);
    expect(isTransientEtcdError(new Error('Unavailable'))).toBe(false);
    const lost = new EtcdLeaseLostError('694d', 'was revoked', { key: 'k' });
    expect(lost.name).toBe('EtcdLeaseLostError');
    expect(lost.message).toContain('lease 694d was revoked');
    expect(lost.message).toContain('"k"');
  });
});

describe('keys', () => {
  it('writes lease ids as Go does (%x: lowercase hex, no padding)', () => {
    expect(leaseHex('2324035531328816390')).toBe('2040a200a23d8506');
    expect(leaseHex('255')).toBe('ff');
  });

  it('prefix range ends like etcd WithPrefix', () => {
    expect(prefixRangeEnd(Buffer.from('a/')).toString()).toBe('a0');
    expect([...prefixRangeEnd(Buffer.from([0x61, 0xff]))]).toEqual([0x62]);
    expect([...prefixRangeEnd(Buffer.from([0xff]))]).toEqual([0]);
  });

  it('a queue entry is a direct child of the queue directory', () => {
    const dir = Buffer.from('jobs/');
    expect(isQueueEntry(dir, Buffer.from('jobs/694d77aa'))).toBe(true);
    expect(isQueueEntry(dir, Buffer.from('jobs/sub/694d77aa'))).toBe(false);
    expect(isQueueEntry(dir, Buffer.from('jobs/'))).toBe(false);
    expect(isQueueEntry(dir, Buffer.from('jobsx/1'))).toBe(false);
    // A lease's marker key is no queue entry, not even with an empty prefix.
    expect(isQueueEntry(dir, leaseSentinelKey('', '694d'))).toBe(false);
    expect(isQueueEntry(Buffer.from('dlock/mutex/jobs/'), leaseSentinelKey('dlock/mutex/', '694d'))).toBe(false);
  });

  it('rejects bad options before connecting', () => {
    expect(() => new EtcdMutex({ hosts: 'http://127.0.0.1:1' }, { prefix: 5 as unknown as string })).toThrow(InvalidOptionError);
    expect(() => new EtcdMutex({ hosts: 'http://127.0.0.1:1' }, { callTimeout: 0 })).toThrow(/callTimeout must be/);
    expect(() => new EtcdMutex({ hosts: 'http://127.0.0.1:1' }, { leaseIdleTimeout: -1 })).toThrow(/leaseIdleTimeout must be/);
    expect(() => new EtcdMutex('localhost' as never)).toThrow(/client must be/);
    for (const bad of [0, 1.5, -2, '4']) {
      expect(() => new EtcdMutex({ hosts: 'http://127.0.0.1:1' }, { maxQueuedPerName: bad as number })).toThrow(
        /^maxQueuedPerName must be an integer >= 1/,
      );
    }
    expect(new EtcdMutex({ hosts: 'http://127.0.0.1:1' }, { maxQueuedPerName: 1 }).maxQueuedPerName).toBe(1);
  });
});

describe('EtcdLock and EtcdMutex as engines', () => {
  const hosts = 'http://127.0.0.1:1';

  it('are LockEngines with their properties set from the options; EtcdLockBase still names either', async () => {
    const locks: EtcdLockBase[] = [
      new EtcdLock({ hosts }, { prefix: 'a/', callTimeout: 1_500 }),
      new EtcdMutex({ hosts }, { prefix: 'b/', callTimeout: 1_500 }),
    ];
    for (const lock of locks) {
      expect(lock).toBeInstanceOf(LockEngine);
      expect(lock.backend).toBe('etcd');
      expect(lock.capabilities).toEqual({ ttlGranularityMs: 1_000, minTtlMs: 2_000, fencing: 'strict' });
      expect(lock.callTimeout).toBe(1_500);
      expect(typeof lock.client.watch).toBe('function');
    }
    expect(locks.map((l) => l.prefix)).toEqual(['a/', 'b/']);
    const defaults = [new EtcdLock({ hosts }), new EtcdMutex({ hosts })] as const;
    expect(defaults[0].prefix).toBe(defaultEtcdLockOptions.lockPrefix);
    expect(defaults[1].prefix).toBe(defaultEtcdLockOptions.mutexPrefix);
    // What the docs say (@default 64).
    expect(defaults[1].maxQueuedPerName).toBe(64);
    await Promise.all([...locks, ...defaults].map((l) => l.close()));
  });

  it('refuse maxLocalHandOvers (they do not hand over) and engine options with bad values, before connecting', () => {
    expect(() => new EtcdLock({ hosts }, { maxLocalHandOvers: 2 } as never)).toThrow(InvalidOptionError);
    expect(() => new EtcdMutex({ hosts }, { defaultTtl: -1 })).toThrow(/defaultTtl must be/);
    expect(() => new EtcdLock({ hosts }, { unavailableTimeout: -1 })).toThrow(/unavailableTimeout must be/);
  });
});
