// The types a backend's test file hands to the contract suites. Their own file: the suites and
// the capability resolution all use them, and none of those has to import another for a type.
import type { LockEngineOptions, DistributedLock } from '@dlock/core';

/** Makes a new, independent lock instance (its own connection where the backend has one). */
export type LockFactory = () => DistributedLock | Promise<DistributedLock>;

/** What the outage suite needs of a backend: its servers, and a lock that reaches them through proxies. */
export interface OutageFixture {
  /** The servers a lock instance talks to (one, or every Redlock node). */
  servers: () => ReadonlyArray<{ port: number }>;
  /**
   * A lock instance whose every connection goes to 127.0.0.1 on `ports` (one per server, in
   * the order of `servers()`), built with `options` on top of the backend's own test settings.
   */
  factory: (ports: readonly number[], options: LockEngineOptions) => DistributedLock | Promise<DistributedLock>;
  /**
   * Longest a single backend call may take to fail while the server is unreachable (the
   * backend's operation/call timeout as the fixture configures it), in ms.
   */
  callTimeoutMs: number;
}
