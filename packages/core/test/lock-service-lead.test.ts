import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  InvalidOptionError,
  LockLostError,
  LockService,
  MemoryElection,
  MemoryElectionStore,
  MemoryLock,
  type Election,
  type LockEvent,
} from '../src/index.js';

function service(store = new MemoryElectionStore()): LockService<Election> {
  return new LockService<Election>(new MemoryElection({ store }));
}

describe('LockService.lead', () => {
  it('campaigns, runs fn as the leader with its term and value, resigns after; with the events of withLock', async () => {
    const events: LockEvent[] = [];
    const leads = new LockService<Election>(new MemoryElection({ store: new MemoryElectionStore() }), { onEvent: (e) => events.push(e) });
    const result = await leads.lead(
      'cron',
      async (leadership) => {
        expect(await leads.lock.leader('cron')).toEqual({ value: 'pod-a', term: leadership.term });
        return leadership.term;
      },
      { value: 'pod-a' },
    );
    expect(await leads.lock.leader('cron')).toBeNull();
    expect(events.map((e) => e.type)).toEqual(['wait-started', 'wait-ended', 'acquired', 'released']);
    expect(events[2]).toMatchObject({ type: 'acquired', key: 'cron', backend: 'memory', fencingToken: result });
    await leads.close();
  });

  it('one leader at a time: a second lead waits until the first resigns', async () => {
    const store = new MemoryElectionStore();
    const a = service(store);
    const b = service(store);
    const order: string[] = [];
    await Promise.all([
      a.lead('job', async () => {
        order.push('a start');
        await sleep(100);
        order.push('a end');
      }),
      sleep(10).then(() => b.lead('job', () => void order.push('b'))),
    ]);
    expect(order).toEqual(['a start', 'a end', 'b']);
    await Promise.all([a.close(), b.close()]);
  });

  it('keeps the leadership past its TTL while fn runs, and rejects with LockLostError when it is lost', async () => {
    const leads = service();
    await leads.lead('renewed', async (l) => {
      await sleep(250);
      expect(l.held).toBe(true);
    }, { ttl: 100 });
    const lost = leads.lead('lost', () => sleep(250), { ttl: 100, autoRenew: false });
    await expect(lost).rejects.toBeInstanceOf(LockLostError);
    await leads.close();
  });

  it('refuses unknown options, bad values and a service over another primitive before any I/O', async () => {
    const leads = service();
    await expect(leads.lead('x', () => 1, { timeout: 5 } as never)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(leads.lead('x', () => 1, { value: 42 } as never)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(leads.lead('', () => 1)).rejects.toBeInstanceOf(InvalidOptionError);
    const mutex = new LockService(new MemoryLock());
    await expect((mutex as unknown as LockService<Election>).lead('x', () => 1)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect((leads as unknown as LockService).withLock('x', () => 1)).rejects.toBeInstanceOf(InvalidOptionError);
    await Promise.all([leads.close(), mutex.close()]);
  });
});
