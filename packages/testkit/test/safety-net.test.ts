// The checker's network helpers: the loopback TCP proxy (scenario 7) and the raw SCAN used to
// find leaked lock keys.
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../src/safety/index.js';
import { scanKeys } from '../src/safety/redis-scan.js';
import { startRedis } from '../src/servers/index.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A loopback echo server. */
async function echoServer(): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as net.AddressInfo).port;
}

async function proxyTo(port: number, delay = 0): Promise<TcpProxy> {
  const proxy = await startTcpProxy({ port }, { delay });
  cleanups.push(() => proxy.stop());
  return proxy;
}

async function connect(port: number): Promise<{ socket: net.Socket; received: () => string; closed: Promise<void> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  cleanups.push(async () => {
    socket.destroy();
  });
  return { socket, received: () => text, closed };
}

async function until(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('safety: loopback TCP proxy', () => {
  it('forwards both ways on 127.0.0.1, adding the delay in each direction and keeping order', async () => {
    const proxy = await proxyTo(await echoServer(), 40);
    expect(proxy.host).toBe('127.0.0.1');
    const client = await connect(proxy.port);
    const sent = performance.now();
    for (const part of ['a', 'b', 'c']) client.socket.write(part);
    await until(() => client.received() === 'abc');
    expect(performance.now() - sent).toBeGreaterThanOrEqual(75); // 40 ms there + 40 ms back
    expect(proxy.connections).toBe(1);
  });

  it('cut() destroys open connections; new ones still work', async () => {
    const proxy = await proxyTo(await echoServer());
    const client = await connect(proxy.port);
    expect(proxy.cut()).toBe(1);
    await client.closed;
    const again = await connect(proxy.port);
    again.socket.write('ping');
    await until(() => again.received() === 'ping');
  });

  it('hold() stops traffic without closing; heal() delivers what was held, in order', async () => {
    const proxy = await proxyTo(await echoServer());
    const client = await connect(proxy.port);
    proxy.hold();
    client.socket.write('x');
    client.socket.write('y');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(client.received()).toBe('');
    expect(proxy.connections).toBe(1);
    proxy.heal();
    await until(() => client.received() === 'xy');
  });

  it('stop() closes the listener', async () => {
    const proxy = await startTcpProxy({ port: await echoServer() });
    await proxy.stop();
    const refused = await new Promise<string>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});

describe('safety: raw SCAN for leaked keys', () => {
  it('lists every matching key across several cursor rounds, and only those', async () => {
    const server = await startRedis();
    cleanups.push(() => server.stop());
    const client = new Redis({ host: '127.0.0.1', port: server.port });
    cleanups.push(async () => void (await client.quit()));
    const pipeline = client.pipeline();
    for (let i = 0; i < 2_500; i++) pipeline.set(`scan-test:{k${i}}`, 'x');
    pipeline.set('other:{k}', 'x');
    await pipeline.exec();
    const keys = await scanKeys(server.port, 'scan-test:*');
    expect(new Set(keys).size).toBe(2_500);
    expect(keys.every((key) => key.startsWith('scan-test:'))).toBe(true);
    await expect(scanKeys(server.port, 'nothing:*')).resolves.toEqual([]);
  });

  it('rejects when nothing listens', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    await expect(scanKeys(port, '*')).rejects.toThrow(/ECONNREFUSED/);
  });
});
