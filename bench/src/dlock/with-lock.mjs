// Turns LockService.withLock(key, fn) into acquire() -> release(), for the bench's worker loops.

/** Resolves with a release function once `run(fn)` calls `fn`; release ends `fn` and awaits `run`. */
export function acquireVia(run) {
  return new Promise((resolve, reject) => {
    let finish;
    const held = new Promise((r) => (finish = r));
    let acquired = false;
    const whole = run(() => {
      acquired = true;
      resolve(() => {
        finish();
        return whole;
      });
      return held;
    });
    whole.catch((error) => {
      if (!acquired) reject(error);
    });
  });
}
