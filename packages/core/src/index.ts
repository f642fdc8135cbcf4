export type {
  AcquireOptions,
  DistributedLock,
  LockCapabilities,
  LockHandle,
  LockInfo,
  RenewObserver,
} from './types.js';
export {
  DlockError,
  InvalidOptionError,
  LockAcquireTimeoutError,
  LockBackendError,
  LockClosedError,
  LockLostError,
  LockNotHeldError,
  LockReleasedError,
  UnknownBackendError,
} from './errors.js';
export { LockEngine } from './engine/lock-engine.js';
export { ClaimEngine } from './engine/claim-engine.js';
export { MAX_PERMITS, validateClaim, validatePermits } from './engine/claim.js';
export {
  EXCLUSIVE,
  SHARED,
  type AcquireRequest,
  type AcquireResult,
  type TransferResult,
  type Claim,
  type ClaimHolder,
  type ClaimKind,
  type KeyHolders,
  type WaitList,
  type DriverFeatures,
  type DriverHost,
  type HeldLock,
  type LockDriver,
  type Pace,
  type QueueWait,
  type ReleaseFeed,
  type RenewManyOptions,
} from './engine/driver.js';
export {
  baseLockOptionNames,
  lockEngineOptionNames,
  type BaseLockOptions,
  type HandOverOptions,
  type KnownOptions,
  type LockEngineOptions,
} from './engine/options.js';
export { waitListPlaceMs } from './engine/wait-list.js';
export { KeyQueue, QueueTicket } from './engine/key-queue.js';
export { Outage } from './engine/outage.js';
export { Handle } from './handle.js';
export {
  DEFAULT_WATCHDOG_SLICE_MS,
  Watchdog,
  type RenewBatch,
  type RenewOutcome,
  type WatchdogOptions,
} from './engine/watchdog.js';
export { autoRenewOf, renewOnTimer } from './renew-timer.js';
export { monotonicClock, type Clock } from './clock.js';
export { abortableDelay, MAX_TIMER_DELAY, timerDelay, withJitter } from './sleep.js';
export { newToken } from './token.js';
export {
  defaultLockOptions,
  MAX_KEY_BYTES,
  MAX_TTL_MS,
  rejectUnknownOptions,
  resolveAcquireOptions,
  validateCount,
  validateKey,
  validateTtl,
  validateWaitTimeout,
  type ResolvedAcquireOptions,
} from './validate.js';
export { MemoryLock, type MemoryLockOptions } from './memory/memory-lock.js';
export { MemoryDriver } from './memory/memory-driver.js';
export { MemoryLockStore, defaultMemoryStore } from './memory/memory-store.js';
export { LockService, type LockPrimitive } from './lock-service.js';
export { CoalescingLock, type CoalescedCaller } from './coalesce/coalescing-lock.js';
export {
  defaultCoalesceOptions,
  type CoalesceOptions,
  type LeadOptions,
  type LockServiceOptions,
  type TryWithLockResult,
  type WithLockOptions,
  type WithPermitOptions,
} from './lock-service-options.js';
export { LockEvents, type LockEvent, type LockEventOf, type LockEventType } from './lock-events.js';
export { LockManager, type RegisterOptions } from './lock-manager.js';
export { KeyedMutex, type KeyedMutexAcquireOptions } from './local/keyed-mutex.js';
export { SingleFlight } from './local/single-flight.js';
export { ReadWriteLockEngine } from './rw/rw-lock-engine.js';
export { MemoryReadWriteLock, type MemoryReadWriteLockOptions } from './rw/memory-rw-lock.js';
export type { DistributedRWLock, RWLockInfo } from './rw/types.js';
export { SemaphoreEngine } from './semaphore/semaphore-engine.js';
export { MemorySemaphore, type MemorySemaphoreOptions } from './semaphore/memory-semaphore.js';
export { SemaphoreLimitMismatchError } from './semaphore/errors.js';
export type { DistributedSemaphore, SemaphoreInfo, SemaphoreOptions } from './semaphore/types.js';
export { MemoryClaimStore } from './claims/memory-claim-store.js';
export { Admission } from './claims/admission.js';
export { MemoryClaimDriver } from './claims/memory-claim-driver.js';
export { KeyedRWMutex } from './local/keyed-rw-mutex.js';
export { ElectionEngine } from './election/election-engine.js';
export { MemoryElection, MemoryElectionDriver, type MemoryElectionOptions } from './election/memory-election.js';
export { MemoryElectionStore, defaultMemoryElectionStore } from './election/memory-election-store.js';
export { MAX_VALUE_BYTES, validateValue } from './election/validate.js';
export type { CampaignOptions, Election, ElectionDriver, LeaderInfo, Leadership, ObserveOptions } from './election/types.js';
