import { InvalidOptionError } from '@dlock/core';
import { isClient, type RedlockNode } from './node-client.js';
import { serverOfClient, serverOfOptions, serverOfUrl } from './node-identity.js';

const NODE_KINDS = 'an ioredis client, ioredis options or a redis:// URL';

/**
 * Checks the `nodes` argument of `new Redlock(nodes)` before anything connects: a non-empty
 * array of clients, options or URLs that name **different** servers. Throws
 * `InvalidOptionError` (naming the entry, what was wrong, and what was received) otherwise.
 *
 * Two entries are the same server when they are the same client object, or when they name the
 * same host and port (or unix socket, or Sentinel master): `localhost`, `127.0.0.1` and `::1`
 * count as one host, a missing port as 6379, and the database number does not matter (two
 * databases of one server crash, pause and restart together: one vote, not two). Names that
 * only DNS could tell apart (an alias and its IP address) are not resolved, so not caught.
 */
export function validateNodes(nodes: unknown): asserts nodes is readonly RedlockNode[] {
  if (!Array.isArray(nodes)) {
    throw new InvalidOptionError('nodes', `a non-empty array (${NODE_KINDS} per node)`, nodes);
  }
  if (nodes.length === 0) {
    throw invalidOption('nodes', `a non-empty array (${NODE_KINDS} per node)`, nodes, 'an empty array');
  }
  const byServer = new Map<string, number>();
  const byObject = new Map<object, number>();
  nodes.forEach((node: unknown, i) => {
    const option = `nodes[${i}]`;
    if (typeof node !== 'string' && (typeof node !== 'object' || node === null)) {
      throw new InvalidOptionError(option, NODE_KINDS, node);
    }
    let server: string | undefined;
    if (typeof node === 'string') {
      try {
        server = serverOfUrl(node);
      } catch (error) {
        const why = (error as Error).message;
        throw new InvalidOptionError(option, `a redis:// or rediss:// URL, a unix socket path or a port (${why})`, node);
      }
    } else {
      const earlier = byObject.get(node);
      if (earlier !== undefined) {
        throw invalidOption(
          option,
          `a different client than nodes[${earlier}] (the same object is given twice; Redlock needs independent servers)`,
          node,
          shown(node),
        );
      }
      byObject.set(node, i);
      server = isClient(node as RedlockNode) ? serverOfClient(node) : serverOfOptions(node);
    }
    if (server === undefined) return;
    const earlier = byServer.get(server);
    if (earlier !== undefined) {
      throw invalidOption(
        option,
        `a different Redis server than nodes[${earlier}] (both are ${server}; Redlock needs independent servers)`,
        node,
        shown(node),
      );
    }
    byServer.set(server, i);
  });
}

/** How a node shows in an error message: a string as the core shows values, an object by what it names. */
function shown(node: object | string): string | undefined {
  if (typeof node === 'string') return undefined;
  const isAClient = isClient(node as RedlockNode);
  const server = isAClient ? serverOfClient(node) : serverOfOptions(node);
  const what = isAClient ? 'an ioredis client' : 'ioredis options';
  return server === undefined ? what : `${what} for ${server}`;
}

/**
 * An `InvalidOptionError` whose message shows `received` as `shownAs` (core's `describe` prints
 * any object as `[object Object] (object)`, which says nothing about an array or a client).
 * `received` itself is kept as given; `undefined` keeps the core's rendering (strings).
 */
function invalidOption(
  option: string,
  expectation: string,
  received: unknown,
  shownAs: string | undefined,
): InvalidOptionError {
  const error = new InvalidOptionError(option, expectation, received);
  // The stack is formatted on first access, so it shows this message too.
  if (shownAs !== undefined) error.message = `${option} must be ${expectation}, got ${shownAs}`;
  return error;
}
