import net from 'node:net';

/** A loopback TCP proxy between clients and one server, with injectable latency and cuts. */
export interface TcpProxy {
  readonly host: '127.0.0.1';
  /** The port clients connect to instead of the server's. */
  readonly port: number;
  /** Connections currently open through the proxy. */
  readonly connections: number;
  /** Delay added to every chunk, in each direction, in ms (order is kept). */
  delay: number;
  /** Destroys every open connection (both sides), as a dropped link would; returns how many. */
  cut(): number;
  /**
   * Holds all traffic (a partition that does not reset connections): nothing is forwarded and
   * new connections wait. {@link heal} delivers what was held, in order.
   */
  hold(): void;
  heal(): void;
  /**
   * The server side goes away: every connection is cut and new ones are refused (the listener
   * closes, so clients see `ECONNREFUSED`) until {@link up}.
   */
  down(): Promise<void>;
  /** Accepts connections again, on the same port. */
  up(): Promise<void>;
  /**
   * From now on, bytes from the server are dropped on every connection open now (requests still
   * arrive and run): replies lost on the way back, as when a link fails after the server acted.
   * Connections opened later (a client reconnecting after {@link cut}) are not affected.
   */
  loseReplies(): void;
  /** Connections accepted since the start (a reconnect shows as one more). */
  readonly accepted: number;
  /** Closes the listener and every connection. */
  stop(): Promise<void>;
}

/** Options of {@link startTcpProxy}. */
export interface TcpProxyOptions {
  /** Initial one-way delay in ms. @default 0 */
  delay?: number;
}

/** One direction of one connection: chunks wait in order until due (and not held). */
class Pipe {
  readonly #queue: Array<{ due: number; chunk: Buffer }> = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly to: net.Socket,
    private readonly proxy: { delay: number; held: boolean },
  ) {}

  push(chunk: Buffer): void {
    const now = performance.now();
    const last = this.#queue.at(-1)?.due ?? 0;
    this.#queue.push({ due: Math.max(now + this.proxy.delay, last), chunk });
    this.flush();
  }

  /** Writes every chunk that is due; arms a timer for the next one. */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.proxy.held) return;
    const now = performance.now();
    while (this.#queue.length > 0 && (this.#queue[0]?.due ?? 0) <= now) {
      const next = this.#queue.shift();
      if (next !== undefined && !this.to.destroyed) this.to.write(next.chunk);
    }
    const head = this.#queue[0];
    if (head !== undefined) this.#timer = setTimeout(() => this.flush(), Math.max(1, Math.ceil(head.due - now)));
  }

  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#queue.length = 0;
  }
}

/**
 * Starts a TCP proxy on a free 127.0.0.1 port that forwards to `target`. Used between the
 * safety workers and a server to add latency, cut connections, or hold traffic.
 *
 * @example
 * ```ts
 * const proxy = await startTcpProxy({ port: redis.port }, { delay: 5 });
 * const lock = new RedisLock({ port: proxy.port });
 * proxy.cut(); // every client connection drops; clients reconnect through the proxy
 * await proxy.stop();
 * ```
 */
export async function startTcpProxy(target: { host?: string; port: number }, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const state = { delay: options.delay ?? 0, held: false, down: false };
  const links = new Set<{ client: net.Socket; upstream: net.Socket; pipes: Pipe[]; losing: boolean }>();
  let accepted = 0;

  const server = net.createServer((client) => {
    // Accepted by the kernel just before down() closed the listener: refuse it too, or
    // server.close() would wait for it forever.
    if (state.down) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: target.host ?? '127.0.0.1', port: target.port });
    const toServer = new Pipe(upstream, state);
    const toClient = new Pipe(client, state);
    const link = { client, upstream, pipes: [toServer, toClient], losing: false };
    links.add(link);
    accepted += 1;
    const close = (): void => {
      if (!links.delete(link)) return;
      toServer.clear();
      toClient.clear();
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => toServer.push(chunk));
    upstream.on('data', (chunk: Buffer) => {
      if (!link.losing) toClient.push(chunk);
    });
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      socket.on('error', close);
      socket.on('close', close);
      // A half-closed side ends the link: the protocols proxied here never half-close on purpose.
      socket.on('end', close);
    }
  });

  const listen = (port: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy: no TCP address');

  const destroyAll = (): number => {
    const count = links.size;
    for (const link of [...links]) {
      for (const pipe of link.pipes) pipe.clear();
      link.client.destroy();
      link.upstream.destroy();
      links.delete(link);
    }
    return count;
  };

  return {
    host: '127.0.0.1',
    port: address.port,
    get connections() {
      return links.size;
    },
    get delay() {
      return state.delay;
    },
    set delay(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`proxy delay must be a finite number >= 0, got ${ms}`);
      state.delay = ms;
    },
    cut: destroyAll,
    hold() {
      state.held = true;
    },
    heal() {
      state.held = false;
      for (const link of links) for (const pipe of link.pipes) pipe.flush();
    },
    async down() {
      if (state.down) return;
      state.down = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      destroyAll();
      await closed;
    },
    async up() {
      if (!state.down) return;
      await listen(address.port);
      state.down = false;
    },
    loseReplies() {
      for (const link of links) link.losing = true;
    },
    get accepted() {
      return accepted;
    },
    async stop() {
      destroyAll();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
