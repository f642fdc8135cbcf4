import { afterEach } from 'vitest';

/**
 * What a test opened, undone after it: `defer` a step, or `track` anything with `close()`.
 * Steps run in reverse order after each test; one that fails does not stop the others.
 */
export function cleanupAfterEach(): { defer(step: () => Promise<unknown>): void; track<T extends { close(): Promise<void> }>(instance: T): T } {
  const steps: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of steps.splice(0).reverse()) await step().catch(() => undefined);
  });
  return {
    defer: (step) => {
      steps.push(step);
    },
    track: (instance) => {
      steps.push(() => instance.close());
      return instance;
    },
  };
}
