import type { DistributedLock } from '@dlock/core';
import type { CliIo } from './io.js';

/** The longest `close()` may take before the command exits anyway (the lease then runs out). */
export const closeTimeout = 5_000;

/**
 * Closes the lock (releasing whatever it still holds, ending its connections), waiting at most
 * {@link closeTimeout}. A failure is reported, not thrown: the command's outcome stands.
 */
export async function closeLock(lock: Pick<DistributedLock, 'backend' | 'close'>, io: CliIo): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), closeTimeout);
  });
  try {
    const outcome = await Promise.race([lock.close().then(() => 'closed' as const), timedOut]);
    if (outcome === 'timeout') io.err(`dlock: warning: closing the ${lock.backend} connection took over ${closeTimeout} ms; exiting anyway`);
  } catch (error) {
    io.err(`dlock: warning: closing the ${lock.backend} lock failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    clearTimeout(timer);
  }
}
