import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import type { RedisServer } from '@dlock/testkit';

/** The Redis name of a lock under the default prefix (the layout is part of the contract). */
export const lockKeyOf = (key: string): string => `dlock:{${key}}`;
export const fenceKeyOf = (key: string): string => `dlock:{${key}}:fence`;

/** Plain ioredis clients, one per node, to look at what Redlock left behind. */
export function directClients(nodes: readonly RedisServer[]): Redis[] & { close(): void } {
  const clients = nodes.map((n) => {
    const c = new Redis(n.url, { maxRetriesPerRequest: 1 });
    c.on('error', () => {});
    return c;
  });
  return Object.assign(clients, { close: () => clients.forEach((c) => c.disconnect()) });
}

/** Which of `clients` hold the lock key of `key` (by index). */
export async function holdersOf(clients: readonly Redis[], key: string): Promise<number[]> {
  const present = await Promise.all(clients.map((c) => c.exists(lockKeyOf(key))));
  return present.flatMap((p, i) => (p === 1 ? [i] : []));
}

/** Collects unhandled promise rejections from now on; `stop()` returns them. */
export function collectUnhandled(): { readonly seen: unknown[]; stop(): unknown[] } {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', onRejection);
  return {
    seen,
    stop() {
      process.off('unhandledRejection', onRejection);
      return seen;
    },
  };
}

/**
 * A "node" that accepts connections and never answers: how a partitioned node looks to the
 * client that cannot reach it (nothing it sends is ever executed, unlike a paused server).
 */
export async function blackHole(): Promise<{ url: string; port: number; readonly accepted: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    /** Connections made to it so far. */
    get accepted() {
      return accepted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Runs `fn` with the nodes at indexes `which` stopped (SIGSTOP), and always resumes them. */
export async function whilePaused<T>(nodes: readonly RedisServer[], which: number[], fn: () => Promise<T>): Promise<T> {
  await Promise.all(which.map((i) => nodes[i]!.pause()));
  try {
    return await fn();
  } finally {
    await Promise.all(which.map((i) => nodes[i]!.resume()));
  }
}
