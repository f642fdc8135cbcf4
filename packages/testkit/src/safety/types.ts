// Shapes shared by the safety checker's parts: what a worker is told, what it reports, what the
// checker records, and what the verdict concludes.

/** The backends the checker knows how to drive (one worker adapter each, in adapters.mjs). */
export type BackendId =
  | 'redis'
  | 'redlock'
  | 'etcd-mutex'
  | 'etcd-lock'
  | 'postgres'
  | 'postgres-rw'
  | 'postgres-semaphore'
  | 'redis-rw'
  | 'redis-semaphore'
  | 'redis-election'
  | 'etcd-rw'
  | 'etcd-semaphore'
  | 'etcd-election';

/**
 * What a backend's workers acquire: a mutex (`lock()`), a read-write lock (`readLock()` or
 * `writeLock()`), a counting semaphore (`acquire()` with `limit` and `permits`) or a leadership
 * (`campaign()`, its term as fencing token).
 */
export type Primitive = 'mutex' | 'rw' | 'semaphore' | 'election';

/**
 * What an acquisition holds of its key besides the key itself: a read-write lock's mode, a
 * semaphore's permits out of its limit. A mutex or a leadership has none: it excludes everyone.
 */
export interface Claim {
  mode?: 'read' | 'write' | undefined;
  permits?: number | undefined;
  limit?: number | undefined;
}

/** The workload of a primitive other than the mutex (see {@link WorkerConfig}). */
export interface PrimitiveWorkload {
  /** Share of read locks among a read-write lock's acquisitions (the rest are write locks). */
  reads?: number;
  /** A semaphore's limit, the same for every caller. */
  limit?: number;
  /** A semaphore acquisition takes 1 to this many permits, at random. */
  maxPermits?: number;
}

/** The faults the checker injects (the rows of the safety matrix), one id each. */
export type ScenarioId =
  | 'contention'
  | 'holder-paused'
  | 'server-paused'
  | 'restart-empty'
  | 'server-restarted'
  | 'redlock-minority'
  | 'etcd-leader-kill'
  | 'proxy-faults'
  | 'holder-killed';

/** What one worker process is started with (passed as JSON on its command line). */
export interface WorkerConfig {
  /** Index of the process in its pool. */
  proc: number;
  /** Adapter name in adapters.mjs. */
  adapter: BackendId;
  /** What the adapter's object is, so how a worker acquires (default `mutex`). */
  primitive?: Primitive;
  /** Modes, permits and limit, for the primitives that have them. */
  workload?: PrimitiveWorkload;
  /**
   * How many acquisitions of this process stop renewing and hold on past their TTL (about
   * 2 TTL), writing on: a leader that lapsed. Worker 0 lapses on its acquisitions from the second on.
   */
  lapses?: number;
  /** File URL of the backend's built ESM entry. */
  module: string;
  /** Connection info for the adapter (JSON). */
  connection: unknown;
  /** Options passed to the lock constructor (prefix, timeouts). */
  lockOptions: Record<string, unknown>;
  /** Keys the async workers contend for, chosen at random per acquisition. */
  keys: string[];
  /** Async workers in this process, sharing one lock instance. */
  workers: number;
  ttl: number;
  /** `lock()`'s waitTimeout; a timeout is reported as an acquire error and retried. */
  waitTimeout: number;
  /** Time spent inside the critical section, uniform in [min, max] ms, split between the writes. */
  holdMs: [number, number];
  /** Fenced writes per acquisition (after the registration). */
  writes: number;
  /** Keep the lock alive with the library's watchdog while held. */
  autoRenew: boolean;
  /** A loss reported more than this many ms before `validUntil` counts as early. */
  earlyToleranceMs: number;
  /**
   * For the checker's own tests: misbehave so that a check must fire. `unhandled-rejection`
   * leaves one promise rejection unhandled; `linger` keeps a timer alive after `close()`.
   */
  selfTest?: 'unhandled-rejection' | 'linger';
}

/** How an acquisition ended. */
export type Outcome =
  /** `release()` resolved: the lock was still ours and is now free. */
  | 'released'
  /** `release()` rejected with `LockNotHeldError`: the lock was gone (expired or taken over). */
  | 'not-held'
  /** `release()` failed otherwise (server unreachable). */
  | 'release-error'
  /** The holder's process was SIGKILLed by the scenario. */
  | 'killed'
  /** The run ended before the acquisition did (the process did not report it). */
  | 'unfinished';

/** One acquisition, as the checker recorded it. Times are on the checker's clock (ms). */
export interface Acquisition extends Claim {
  /** `<proc>.<worker>.<n>`. */
  id: string;
  proc: number;
  worker: number;
  key: string;
  /** First 8 hex characters of the owner token. */
  token: string;
  fence: bigint;
  /** When the checker received the registration (the lock was acquired before this). */
  grantedAt: number;
  /**
   * Stamp of the last step after which the holder confirmed the lock still valid; undefined when
   * it never did. `[grantedAt, validThrough]` lies inside the real validity interval.
   */
  validThrough: number | undefined;
  /** When the checker received the release intent (the release was sent after this). */
  releaseIntentAt: number | undefined;
  outcome: Outcome;
  /** `handle.signal` aborted with `LockLostError` (before or during release). */
  lossReported: boolean;
  /** The loss came before `release()` was called and while `validUntil` had not passed: the lock vanished early. */
  earlyLoss: boolean;
  /**
   * `release()` found the lock gone (LockNotHeldError) while `validUntil` had not passed: it
   * vanished early, or a retried release found its own earlier deletion.
   */
  releaseNotHeldEarly: boolean;
  lossMessage?: string | undefined;
  /**
   * The holder's `validUntil` at registration, on the checker's clock, minus the clock handshake's
   * error bound: the lock was surely held until at least this (when the offset is known).
   */
  validUntilAtLeast: number | undefined;
  /** `validUntil - performance.now()` in the holder's process as it registered (<= 0: handed out expired). */
  validLeftAtGrant: number;
  /**
   * When the holder called the acquiring method, on the checker's clock minus the handshake's
   * error bound: the grant came after this. Undefined when the clock offset is unknown.
   */
  calledAtLeast?: number | undefined;
  /** Faults the scenario injected into this acquisition's process while it held the lock (`lapsed`: it stopped renewing). */
  faults: string[];
}

/** One write the fenced resource decided on, in the order it decided. */
export interface WriteRecord {
  at: number;
  key: string;
  acq: string;
  fence: bigint;
  /**
   * `register`: the fenced write every holder makes right after acquiring. `read`: a reader's
   * fenced read. `leave`: the holder announced its release and writes no more; `evict`: the
   * resource dropped the holder (a newer one needed its share). The last two are decisions about
   * a holder, not writes (`accepted` is true), kept only by a resource of shared claims.
   */
  kind: 'register' | 'write' | 'read' | 'leave' | 'evict';
  accepted: boolean;
  /** What the holder claims (on `register` records of a resource of shared claims). */
  claim?: Claim | undefined;
}

/** A problem a scenario found beyond the generic checks (e.g. the lock freed before its TTL). */
export interface Finding {
  /** Whether the row fails because of it. A documented unsafety is shown, not failed. */
  severity: 'failure' | 'documented' | 'info';
  message: string;
}

/** Everything a run recorded, the verdict's only input. */
export interface History {
  acquisitions: Acquisition[];
  writes: WriteRecord[];
  /** Errors reported by workers, by `<op>:<error name>`. */
  errors: Record<string, number>;
  /** Unhandled rejections and uncaught exceptions reported by workers. */
  unhandled: string[];
  /** Worker or server processes still alive after the run. */
  leakedProcesses: string[];
  /** Lock keys still on the servers after the run (and past their TTL). */
  leakedKeys: string[];
  /** Scenario-specific findings and measurements. */
  findings: Finding[];
}

/** What a scenario allows, because the backend documents that it cannot do better there. */
export interface VerdictPolicy {
  fencing: 'strict' | 'none';
  /**
   * Set when the backend cannot guarantee exclusion in this scenario (e.g. a single Redis
   * restarted empty). Overlaps, fence inversions and early losses are then shown, not failed;
   * fencing must still reject every stale write.
   */
  documentedUnsafe?: string | undefined;
  /** Acquire/release errors are expected (servers down): counted, not failed. */
  errorsExpected?: boolean | undefined;
  /** Early losses are expected (a node restarted empty): counted, not failed. */
  earlyLossExpected?: boolean | undefined;
  /**
   * Connections are cut or requests retried on another member: a release may run twice and
   * report LockNotHeldError for its own deletion, so early not-held releases are not failed.
   */
  releaseAmbiguous?: boolean | undefined;
}

/** The verdict on one run. */
export interface Verdict {
  acquisitions: number;
  /** Acquisitions whose confirmed validity overlapped an earlier one's on the same key. */
  overlaps: number;
  /** Acquisitions confirmed valid whose fencing token was not above every earlier one's (strict fencing only). */
  fenceInversions: number;
  staleRejected: number;
  /** Accepted writes of a holder after another holder's accepted write on the same key. */
  staleAccepted: number;
  lossesReported: number;
  /** Holders whose release succeeded although a confirmed-valid holder had taken over meanwhile. */
  lostUnnoticed: number;
  earlyLosses: number;
  /** Releases that reported LockNotHeldError before validUntil. */
  earlyNotHeld: number;
  /** Acquisitions whose handle was already past its validUntil when `lock()` returned it. */
  expiredAtGrant: number;
  errors: number;
  unhandled: number;
  leakedProcesses: number;
  leakedKeys: number;
  /** `documented`: passed, and the row shows an unsafety the backend documents. */
  status: 'pass' | 'fail' | 'documented';
  /** Why the row failed (empty when it passed). */
  failures: string[];
  /** What the row shows (documented unsafety, measurements), for the report. */
  notes: string[];
  /** A few offending examples, for diagnosis. */
  examples: string[];
}
