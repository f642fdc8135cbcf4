import net from 'node:net';

// Ports this process has handed to a server that still holds them. The kernel may give a port that
// was just closed to the next bind(0), so without this two servers started back to back in one
// process could be offered the same port before the first one has bound it.
const held = new Set<number>();

function tryBind(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ host: '127.0.0.1', port }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago (found by binding port 0). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tryBind(0);
    if (port !== undefined && !held.has(port)) return port;
  }
  throw new Error('freePort: could not find a free port on 127.0.0.1 after 50 attempts');
}

/**
 * `count` distinct free ports, marked as held by this process until {@link releasePorts}.
 * Another process can still take one before the server binds it: starters retry on EADDRINUSE.
 */
export async function reservePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await freePort();
    held.add(port);
    ports.push(port);
  }
  return ports;
}

/** Gives ports back once their server is stopped for good. */
export function releasePorts(ports: readonly number[]): void {
  for (const port of ports) held.delete(port);
}

/** Whether 127.0.0.1:`port` can be bound right now. */
export async function isPortFree(port: number): Promise<boolean> {
  return (await tryBind(port)) === port;
}

/** Waits until every port can be bound (a just-killed server's sockets may linger briefly); false on timeout. */
export async function waitPortsFree(ports: readonly number[], timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const free = await Promise.all(ports.map(isPortFree));
    if (free.every(Boolean)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
