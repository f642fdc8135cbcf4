import { CLEANUP_BATCH } from './sql.js';

/** How often an instance deletes old rows, at most (ms); sooner after a full batch. */
const CLEANUP_INTERVAL_MS = 30_000;
const CLEANUP_AGAIN_MS = 1_000;

/**
 * When a driver deletes rows nobody needs any more: at most one cleanup statement per instance
 * every 30 s, again after a second while a full batch comes back (a backlog). No separate job is
 * needed. `cleanUp` runs the statement and resolves to the number of rows it deleted.
 */
export class CleanupSchedule {
  readonly #cleanUp: () => Promise<number>;
  #next = 0;
  #running = false;
  #stopped = false;

  constructor(cleanUp: () => Promise<number>) {
    this.#cleanUp = cleanUp;
  }

  /** Starts a cleanup in the background when one is due (never two at once, none once stopped). */
  maybeRun(): void {
    const now = performance.now();
    if (this.#running || this.#stopped || now < this.#next) return;
    this.#running = true;
    this.#next = now + CLEANUP_INTERVAL_MS;
    this.#cleanUp()
      .then((deleted) => {
        if (deleted >= CLEANUP_BATCH) this.#next = performance.now() + CLEANUP_AGAIN_MS;
      })
      .catch(() => undefined)
      .finally(() => {
        this.#running = false;
      });
  }

  stop(): void {
    this.#stopped = true;
  }
}
