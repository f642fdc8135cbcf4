import { MemoryLock, MemoryLockStore, type AcquireAttempt, type HeldLock } from '../src/index.js';

/** A MemoryLock that counts the backend calls the base makes, and can be told to fail renewals. */
export class CountingLock extends MemoryLock {
  acquires = 0;
  transfers = 0;
  renewBatches: number[] = [];
  failRenewals = false;

  constructor(store = new MemoryLockStore(), options: { defaultTtl?: number; maxLocalHandOvers?: number } = {}) {
    super({ store, ...options });
  }

  protected override acquireOnce(key: string, token: string, ttl: number): Promise<AcquireAttempt> {
    this.acquires++;
    return super.acquireOnce(key, token, ttl);
  }

  protected override transferOnce(lock: HeldLock, token: string, ttl: number): Promise<AcquireAttempt> {
    this.transfers++;
    return super.transferOnce(lock, token, ttl);
  }

  protected override async renewManyOnce(locks: readonly HeldLock[]): Promise<Array<boolean | Error>> {
    this.renewBatches.push(locks.length);
    if (this.failRenewals) throw new Error('connection reset (simulated backend outage)');
    return super.renewManyOnce(locks);
  }
}
