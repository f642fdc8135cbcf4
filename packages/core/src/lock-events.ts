import type { LockLostError } from './errors.js';

interface EventBase {
  /** The lock key. */
  readonly key: string;
  /** The backend name (`memory`, `redis`, `etcd`, `redlock`, ...). */
  readonly backend: string;
}

/**
 * What a `LockService` reports about the locks it takes, for logs and metrics.
 * Durations are in milliseconds, measured on the monotonic clock.
 */
export type LockEvent =
  | (EventBase & { readonly type: 'wait-started' })
  | (EventBase & {
      readonly type: 'wait-ended';
      readonly waitedMs: number;
      /** `acquired`, `busy` (tryWithLock found it held), `timeout`, `aborted` or `error`. */
      readonly outcome: 'acquired' | 'busy' | 'timeout' | 'aborted' | 'error';
      readonly error?: unknown;
    })
  | (EventBase & {
      readonly type: 'acquired';
      readonly fencingToken: bigint;
      readonly waitedMs: number;
      /** `true` when coalescing handed the lock over from the previous local holder (no backend acquire). */
      readonly handedOver?: boolean;
    })
  | (EventBase & { readonly type: 'released'; readonly heldMs: number })
  | (EventBase & { readonly type: 'renewed'; readonly heldMs: number })
  | (EventBase & { readonly type: 'renew-failed'; readonly heldMs: number; readonly error: Error })
  | (EventBase & { readonly type: 'lost'; readonly heldMs: number; readonly error: LockLostError });

/** The event types. */
export type LockEventType = LockEvent['type'];

/** The event of one type. */
export type LockEventOf<T extends LockEventType> = Extract<LockEvent, { type: T }>;

type Listener = (event: LockEvent) => void;

/**
 * A small typed emitter. A throwing listener is isolated: it never breaks locking and never
 * becomes an unhandled rejection.
 */
export class LockEvents {
  readonly #listeners = new Map<LockEventType | '*', Set<Listener>>();

  /** Listens to one event type, or every event with `'*'`; returns the unsubscribe function. */
  on<T extends LockEventType>(type: T, listener: (event: LockEventOf<T>) => void): () => void;
  on(type: '*', listener: (event: LockEvent) => void): () => void;
  on(type: LockEventType | '*', listener: Listener): () => void {
    let set = this.#listeners.get(type);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Whether anyone listens (lets callers skip building events nobody reads). */
  get active(): boolean {
    for (const set of this.#listeners.values()) if (set.size > 0) return true;
    return false;
  }

  emit(event: LockEvent): void {
    for (const type of [event.type, '*'] as const) {
      for (const listener of this.#listeners.get(type) ?? []) {
        try {
          listener(event);
        } catch {
          // A broken metrics listener must not break the lock it observes.
        }
      }
    }
  }
}
