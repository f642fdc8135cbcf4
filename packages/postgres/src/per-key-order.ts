/**
 * Runs the attempts made on one key one after another, in the order they were made; attempts
 * on other keys do not wait. An attempt starts once the one before it settled, either way.
 */
export class PerKeyOrder {
  /** The last attempt in flight per key, settled either way. */
  readonly #last = new Map<string, Promise<void>>();

  run<T>(key: string, attempt: () => Promise<T>): Promise<T> {
    const previous = this.#last.get(key);
    const result = previous === undefined ? attempt() : previous.then(attempt);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.#last.set(key, settled);
    void settled.then(() => {
      if (this.#last.get(key) === settled) this.#last.delete(key);
    });
    return result;
  }
}
