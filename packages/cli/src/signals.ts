/** The signals `dlock run` passes on to its command (or that stop its wait for the lock). */
export const forwardedSignals: readonly NodeJS.Signals[] = Object.freeze(['SIGINT', 'SIGTERM', 'SIGHUP']);

/**
 * Catches {@link forwardedSignals} for as long as it is open, so they no longer end dlock at once
 * (dlock must release its lock first), and hands each one to the current listener.
 */
export class SignalRelay {
  #listener: (signal: NodeJS.Signals) => void = () => {};
  readonly #handlers = new Map<NodeJS.Signals, () => void>();
  /** The first signal caught, if any. */
  received: NodeJS.Signals | undefined;

  constructor() {
    for (const signal of forwardedSignals) {
      const handler = (): void => {
        this.received ??= signal;
        this.#listener(signal);
      };
      this.#handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  /** Sends every later signal to `listener` (replacing the previous one). */
  listen(listener: (signal: NodeJS.Signals) => void): void {
    this.#listener = listener;
  }

  /** Gives the signals back to Node's default handling. */
  close(): void {
    for (const [signal, handler] of this.#handlers) process.off(signal, handler);
    this.#handlers.clear();
  }
}
