// The "server" of the example backend: a table of leases that lives in this process. It stands
// for whatever a real backend talks to (Redis, a SQL table, a coordination service): every
// operation is one atomic, owner-checked step, as a Lua script or a transaction would be.

interface Row {
  token: string;
  fence: bigint;
  /** When the lease ends, on the table's own clock (`performance.now()`). */
  expiresAt: number;
}

/** Thrown by every operation while the table is {@link LockTable.down}: a failure that may pass. */
export class TableUnavailableError extends Error {
  override readonly name = 'TableUnavailableError';
}

/** Thrown by every operation while the table {@link LockTable.refuses} us: waiting will not cure it. */
export class TableAccessError extends Error {
  override readonly name = 'TableAccessError';
}

/** A map of key -> { token, fence, expiresAt }; expired rows count as absent. */
export class LockTable {
  /** Set to make every operation fail, as an unreachable server would. */
  down = false;
  /** Set to make every operation fail, as a server that refuses our credentials would. */
  refuses = false;
  readonly #rows = new Map<string, Row>();
  readonly #watchers = new Map<string, Set<(key: string) => void>>();
  readonly #clearListeners = new Set<() => void>();
  /** One counter for the whole table: it outlives every row, so fences never repeat for a key. */
  #fence = 0n;

  /** Takes `key` for `token` if free: the new fence, or the ms left on the holder's lease. */
  acquire(key: string, token: string, ttl: number): { fence: bigint } | { retryAfter: number } {
    const row = this.#live(key);
    if (row !== undefined) return { retryAfter: Math.max(0, row.expiresAt - performance.now()) };
    this.#fence += 1n;
    this.#rows.set(key, { token, fence: this.#fence, expiresAt: performance.now() + ttl });
    return { fence: this.#fence };
  }

  /** Deletes `key` if `token` holds it, and tells its watchers. */
  release(key: string, token: string): boolean {
    const row = this.#live(key);
    if (row?.token !== token) return false;
    this.#rows.delete(key);
    for (const watcher of this.#watchers.get(key) ?? []) watcher(key);
    return true;
  }

  /** Extends `key` to `ttl` ms from now if `token` holds it. */
  renew(key: string, token: string, ttl: number): boolean {
    const row = this.#live(key);
    if (row?.token !== token) return false;
    row.expiresAt = performance.now() + ttl;
    return true;
  }

  /** The live row of `key`, or `undefined`. */
  get(key: string): Readonly<Row> | undefined {
    return this.#live(key);
  }

  /** Calls `watcher(key)` after every release of `key`, until {@link unwatch}. */
  watch(key: string, watcher: (key: string) => void): void {
    this.#check();
    const set = this.#watchers.get(key) ?? new Set();
    this.#watchers.set(key, set.add(watcher));
  }

  unwatch(key: string, watcher: (key: string) => void): void {
    const set = this.#watchers.get(key);
    set?.delete(watcher);
    if (set?.size === 0) this.#watchers.delete(key);
  }

  /** Deletes every row (an operator's flush); the fence counter stays. */
  clear(): void {
    this.#rows.clear();
    for (const listener of this.#clearListeners) listener();
  }

  /** Calls `listener` after every {@link clear}; returns the unsubscribe function. */
  onClear(listener: () => void): () => void {
    this.#clearListeners.add(listener);
    return () => this.#clearListeners.delete(listener);
  }

  #live(key: string): Row | undefined {
    this.#check();
    const row = this.#rows.get(key);
    if (row === undefined || row.expiresAt > performance.now()) return row;
    this.#rows.delete(key); // expired: found out lazily, so nobody is told
    return undefined;
  }

  #check(): void {
    if (this.down) throw new TableUnavailableError('the lock table is unavailable');
    if (this.refuses) throw new TableAccessError('the lock table refused access');
  }
}
