import {
  LockEngine,
  MemoryDriver,
  MemoryLockStore,
  type AcquireRequest,
  type AcquireResult,
  type HeldLock,
  type TransferResult,
} from '../src/index.js';

/** The memory driver, counting the calls the engine makes; it can be told to fail renewals. */
export class CountingDriver extends MemoryDriver {
  acquires = 0;
  transfers = 0;
  renewBatches: number[] = [];
  failRenewals = false;

  override transfer(lock: HeldLock<undefined>, token: string, ttl: number): Promise<TransferResult<undefined>> {
    this.transfers++;
    return super.transfer(lock, token, ttl);
  }

  override acquire(request: AcquireRequest): Promise<AcquireResult<undefined>> {
    this.acquires++;
    return super.acquire(request);
  }

  override async renewMany(locks: readonly HeldLock<undefined>[]): Promise<Array<boolean | Error>> {
    this.renewBatches.push(locks.length);
    if (this.failRenewals) throw new Error('connection reset (simulated backend outage)');
    return super.renewMany(locks);
  }
}

/** A memory lock over a {@link CountingDriver}. */
export class CountingLock extends LockEngine<undefined> {
  readonly driver: CountingDriver;

  constructor(store = new MemoryLockStore(), options: { defaultTtl?: number; maxLocalHandOvers?: number } = {}) {
    const driver = new CountingDriver(store);
    super(driver, options, { names: [], what: 'new CountingLock()' });
    this.driver = driver;
  }

  get acquires(): number {
    return this.driver.acquires;
  }
  get transfers(): number {
    return this.driver.transfers;
  }
  get renewBatches(): number[] {
    return this.driver.renewBatches;
  }
  get failRenewals(): boolean {
    return this.driver.failRenewals;
  }
  set failRenewals(value: boolean) {
    this.driver.failRenewals = value;
  }
}
