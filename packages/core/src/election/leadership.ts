import type { LockHandle } from '../types.js';
import type { Leadership } from './types.js';

/** The engine's side of a leadership: how `proclaim` reaches the backend. */
type Proclaim = (handle: LockHandle, value: string) => Promise<void>;

const inner = new WeakMap<object, LockHandle>();

/**
 * The lock handle behind a leadership of this module, for the election that made it; `undefined`
 * for anything else.
 */
export function leadershipHandle(leadership: unknown): LockHandle | undefined {
  return typeof leadership === 'object' && leadership !== null ? inner.get(leadership) : undefined;
}

/**
 * A won election: the engine's lock handle on the election's name, with the term (its fencing
 * token), the value and `proclaim`. Releasing it is resigning.
 */
export class LeaderHandle implements Leadership {
  readonly #handle: LockHandle;
  readonly #proclaim: Proclaim;
  #value: string;

  constructor(handle: LockHandle, value: string, proclaim: Proclaim) {
    this.#handle = handle;
    this.#value = value;
    this.#proclaim = proclaim;
    inner.set(this, handle);
  }

  get name(): string {
    return this.#handle.key;
  }
  get key(): string {
    return this.#handle.key;
  }
  get token(): string {
    return this.#handle.token;
  }
  get fencingToken(): bigint {
    return this.#handle.fencingToken;
  }
  get term(): bigint {
    return this.#handle.fencingToken;
  }
  get value(): string {
    return this.#value;
  }
  get validUntil(): number {
    return this.#handle.validUntil;
  }
  get signal(): AbortSignal {
    return this.#handle.signal;
  }
  get held(): boolean {
    return this.#handle.held;
  }

  async proclaim(value: string): Promise<void> {
    await this.#proclaim(this.#handle, value);
    this.#value = value;
  }

  resign(): Promise<void> {
    return this.#handle.release();
  }

  release(): Promise<void> {
    return this.#handle.release();
  }

  extend(ttl?: number): Promise<void> {
    return this.#handle.extend(ttl);
  }

  /** `await using`: resigns if still the leader; a leadership already lost is not an error here. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#handle[Symbol.asyncDispose]();
  }

  /** Keeps tokens out of logs. */
  toJSON(): object {
    return { name: this.name, term: this.term.toString(), value: this.#value, held: this.held };
  }
}
