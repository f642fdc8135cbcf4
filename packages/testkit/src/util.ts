import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** A key no other test (or run) uses: tests never rely on an empty server. */
export function uniqueKey(prefix = 'dlock-test'): string {
  return `${prefix}:${randomUUID()}`;
}

/** Polls `condition` every 10 ms until true, or throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(10);
  }
}
