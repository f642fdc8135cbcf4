/** Anything the harness started that must be stopped before the test process ends. */
export interface Stoppable {
  stop(): Promise<void>;
}

const running = new Set<Stoppable>();

/** Records a started server so {@link stopAllServers} reaches it. */
export function track(server: Stoppable): void {
  running.add(server);
}

/** Forgets a server once it stopped for good. */
export function untrack(server: Stoppable): void {
  running.delete(server);
}

/**
 * Stops every server this process started and has not stopped yet (local processes and
 * containers). Safe to call more than once, e.g. from a global `afterAll`.
 */
export async function stopAllServers(): Promise<void> {
  const servers = [...running];
  const results = await Promise.allSettled(servers.map((server) => server.stop()));
  const failures = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failures.length > 0) {
    throw new AggregateError(
      failures.map((failure) => failure.reason),
      `stopAllServers: ${failures.length} of ${servers.length} servers failed to stop`,
    );
  }
}
