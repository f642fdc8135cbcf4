import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { Etcd3 } from 'etcd3';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  freePort,
  liveChildPids,
  serverMode,
  startEtcd,
  startEtcdCluster,
  startRedis,
  startRedisNodes,
  stopAllServers,
  ServerStartError,
  type EtcdServer,
  type RedisServer,
  type ServerProcess,
} from '../src/servers/index.js';
import { pidAlive, RingBuffer } from '../src/servers/process.js';

// These tests exercise the local-process harness (pids, signals, data dirs) on any machine; the
// mode test below switches to auto on its own.
const savedMode = process.env['DLOCK_TEST_SERVERS'];
process.env['DLOCK_TEST_SERVERS'] = 'local';

// Every pid the harness reported, checked in afterAll: none may outlive the file.
const seenPids = new Set<number>();
const seenDirs = new Set<string>();

function remember(server: ServerProcess): void {
  if (server.pid !== undefined) seenPids.add(server.pid);
  if (server.dataDir !== undefined) seenDirs.add(server.dataDir);
}

/** Resolves with the connection error code, or 'connected'. */
function connectResult(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

function redisClient(server: RedisServer): Redis {
  // Fail fast instead of queueing or retrying: the tests want to see outages.
  return new Redis(server.url, { commandTimeout: 300, maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true, retryStrategy: () => null });
}

async function withRedis<T>(server: RedisServer, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = redisClient(server);
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

async function withEtcd<T>(hosts: string | string[], use: (client: Etcd3) => Promise<T>): Promise<T> {
  const client = new Etcd3({ hosts });
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

/** Sends raw RESP and resolves with the first reply chunk. */
function rawReply(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(request));
    socket.setEncoding('utf8');
    socket.once('data', (reply: string) => {
      socket.destroy();
      resolve(reply);
    });
    socket.once('error', reject);
  });
}

async function health(endpoint: string): Promise<unknown> {
  const response = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(2_000) });
  return response.json();
}

interface Status {
  header: { member_id: string };
  leader: string;
}

async function status(endpoint: string): Promise<Status> {
  const response = await fetch(`${endpoint}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2_000) });
  return (await response.json()) as Status;
}

async function elapsed<T>(run: () => Promise<T>): Promise<{ ms: number; result: PromiseSettledResult<T> }> {
  const started = performance.now();
  const [result] = await Promise.allSettled([run()]);
  return { ms: performance.now() - started, result: result as PromiseSettledResult<T> };
}

afterAll(async () => {
  if (savedMode === undefined) delete process.env['DLOCK_TEST_SERVERS'];
  else process.env['DLOCK_TEST_SERVERS'] = savedMode;
  await stopAllServers();
  expect(liveChildPids()).toEqual([]);
  expect(seenPids.size).toBeGreaterThan(0);
  for (const pid of seenPids) expect(pidAlive(pid), `pid ${pid} still alive`).toBe(false);
  for (const dir of seenDirs) expect(existsSync(dir), `${dir} still exists`).toBe(false);
});

describe('mode and ports', () => {
  // First in the file: the runtime probe result is cached per module, this measures the real one.
  it('auto mode resolves to local without a Docker engine, its probe in under a second', async () => {
    try {
      process.env['DLOCK_TEST_SERVERS'] = 'auto';
      // Loading testcontainers is CPU work (~0.5 s idle, several seconds on a loaded machine):
      // done first, so the bound is on the engine probe alone (a few ms without an engine;
      // a probe that waits for a connect timeout would exceed it).
      const { getContainerRuntimeClient } = await import('testcontainers');
      const { ms, result } = await elapsed(() => serverMode());
      // No engine runs here, so 'local'; on a machine with one, auto must pick it.
      const engine = await getContainerRuntimeClient().then(
        () => true,
        () => false,
      );
      expect(result).toEqual({ status: 'fulfilled', value: engine ? 'docker' : 'local' });
      expect(ms).toBeLessThan(1_000);
      process.env['DLOCK_TEST_SERVERS'] = 'local';
      expect(await serverMode()).toBe('local');
      if (!engine) {
        process.env['DLOCK_TEST_SERVERS'] = 'docker';
        await expect(serverMode()).rejects.toThrow(/no container engine answers: start Docker/);
      }
      process.env['DLOCK_TEST_SERVERS'] = 'podman';
      await expect(serverMode()).rejects.toThrow(/must be auto, local or docker, got "podman"/);
    } finally {
      process.env['DLOCK_TEST_SERVERS'] = 'local';
    }
  });

  it('says how to install a missing binary', async () => {
    const savedPath = process.env['PATH'];
    process.env['PATH'] = '/nonexistent';
    try {
      await expect(startRedis()).rejects.toThrow(/`apt-get install redis-server`.*start Docker/s);
      await expect(startEtcd()).rejects.toThrow(/`apt-get install etcd-server etcd-client`/);
    } finally {
      process.env['PATH'] = savedPath;
    }
  });

  it('the output ring buffer keeps the first lines and the last ones', () => {
    const buffer = new RingBuffer(3, 2);
    buffer.write('l1\nl2\nl3');
    expect(buffer.summary(3)).toEqual(['l1', 'l2', 'l3']);
    buffer.write('\r\nl4\nl5\nl6\nl7\npart');
    expect(buffer.tail()).toEqual(['l6', 'l7', 'part']);
    expect(buffer.summary(3)).toEqual(['l1', 'l2', '... (3 lines left out)', 'l6', 'l7', 'part']);
  });

  it('freePort returns a bindable loopback port', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});

describe('redis', () => {
  let server: RedisServer;
  const key = `harness:${randomUUID()}`;

  it('starts on a loopback port and serves SET/GET', async () => {
    server = await startRedis();
    remember(server);
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(server.dataDir).toMatch(/dlock-redis-/);
    expect(existsSync(server.dataDir ?? '')).toBe(true);
    await withRedis(server, async (client) => {
      expect(await client.set(key, 'v1')).toBe('OK');
      expect(await client.get(key)).toBe('v1');
    });
  });

  it('pause() makes commands time out and resume() brings them back', async () => {
    await withRedis(server, async (client) => {
      await server.pause();
      const paused = await elapsed(() => client.get(key));
      expect(paused.result.status).toBe('rejected');
      expect(String((paused.result as PromiseRejectedResult).reason)).toMatch(/timed out/i);
      expect(paused.ms).toBeLessThan(2_000);
      await server.resume();
      expect(await client.get(key)).toBe('v1');
    });
  });

  it('kill() ends the process and the port refuses connections', async () => {
    const pid = server.pid;
    expect(pid).toBeTypeOf('number');
    await server.kill();
    expect(pidAlive(pid ?? -1)).toBe(false);
    expect(server.pid).toBeUndefined();
    expect(await connectResult(server.port)).toBe('ECONNREFUSED');
    await expect(server.pause()).rejects.toThrow(/not running/);
    expect(existsSync(server.dataDir ?? '')).toBe(true);
  });

  it('restart() comes back on the same port, without data (persistence is off)', async () => {
    const port = server.port;
    await server.restart();
    remember(server);
    expect(server.port).toBe(port);
    expect(server.pid).toBeTypeOf('number');
    await withRedis(server, async (client) => {
      expect(await client.get(key)).toBeNull();
      await client.set(key, 'v2');
    });
    // A restart of a running server works too, and empty:true certainly wipes.
    const before = server.pid;
    await server.restart({ empty: true });
    remember(server);
    expect(server.pid).not.toBe(before);
    expect(pidAlive(before ?? -1)).toBe(false);
    await withRedis(server, async (client) => expect(await client.get(key)).toBeNull());
  });

  it('stop() ends the process, removes the data dir and is idempotent', async () => {
    const { pid, dataDir, port } = server;
    await server.stop();
    await server.stop();
    expect(pidAlive(pid ?? -1)).toBe(false);
    expect(existsSync(dataDir ?? '')).toBe(false);
    expect(await connectResult(port)).toBe('ECONNREFUSED');
    await expect(server.restart()).rejects.toThrow(/stop\(\) is final/);
  });

  it('password: the url carries it and clients without it are refused', async () => {
    const secured = await startRedis({ password: 'p@ss word' });
    remember(secured);
    try {
      expect(secured.url).toBe(`redis://:${encodeURIComponent('p@ss word')}@127.0.0.1:${secured.port}`);
      await withRedis(secured, async (client) => expect(await client.ping()).toBe('PONG'));
      // ioredis 6 opens with HELLO, so speak RESP directly to see the server's own refusal.
      expect(await rawReply(secured.port, '*1\r\n$4\r\nPING\r\n')).toMatch(/^-NOAUTH/);
    } finally {
      await secured.stop();
    }
  });

  it('startRedisNodes(3) starts three independent servers', async () => {
    const nodes = await startRedisNodes(3);
    nodes.forEach(remember);
    try {
      expect(nodes).toHaveLength(3);
      expect(new Set(nodes.map((node) => node.port)).size).toBe(3);
      const probe = `harness:${randomUUID()}`;
      await withRedis(nodes[0] as RedisServer, (client) => client.set(probe, 'only-on-0'));
      const values = await Promise.all(nodes.map((node) => withRedis(node, (client) => client.get(probe))));
      expect(values).toEqual(['only-on-0', null, null]);
    } finally {
      await nodes.stop();
    }
    for (const node of nodes) expect(await connectResult(node.port)).toBe('ECONNREFUSED');
  });
});

describe('start failures', () => {
  it('a server that exits at start fails with its own last output', async () => {
    await expect(startRedis({ args: ['--no-such-directive', 'x'] })).rejects.toThrow(/exited \(code 1\) before it was ready[\s\S]*no-such-directive/);
    await expect(startEtcd({ args: ['--no-such-flag'] })).rejects.toThrow(/flag provided but not defined: -no-such-flag/);
  });

  it('a taken port is detected and retried, then reported', async () => {
    const taken = await startRedis();
    remember(taken);
    try {
      // Extra args come last, so this redis insists on the taken port on every attempt.
      const error: unknown = await startRedis({ args: ['--port', String(taken.port)] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ServerStartError);
      expect((error as ServerStartError).addressInUse).toBe(true);
      expect((error as Error).message).toMatch(/Address already in use/);
    } finally {
      await taken.stop();
    }
  });
});

describe('etcd', () => {
  let server: EtcdServer;
  const key = `harness/${randomUUID()}`;

  it('starts and serves put/get', async () => {
    server = await startEtcd();
    remember(server);
    expect(server.endpoint).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.peerPort).not.toBe(server.port);
    expect(await health(server.endpoint)).toMatchObject({ health: 'true' });
    await withEtcd(server.endpoint, async (client) => {
      await client.put(key).value('v1');
      expect(await client.get(key).string()).toBe('v1');
    });
  });

  it('pause() makes calls fail within their deadline and resume() brings them back', async () => {
    await withEtcd(server.endpoint, async (client) => {
      expect(await client.get(key).string()).toBe('v1');
      await server.pause();
      const paused = await elapsed(() => client.get(key).options({ deadline: Date.now() + 500 }).string());
      expect(paused.result.status).toBe('rejected');
      expect(paused.ms).toBeLessThan(5_000);
    });
    await server.resume();
    // A fresh client: the first one's circuit breaker stays open for a while after the timeouts.
    await withEtcd(server.endpoint, async (client) => {
      expect(await client.get(key).options({ deadline: Date.now() + 5_000 }).string()).toBe('v1');
    });
  });

  it('restart() keeps the data on the same port; restart({ empty: true }) wipes it', async () => {
    const { port, pid } = server;
    await server.restart();
    remember(server);
    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(pid);
    await withEtcd(server.endpoint, async (client) => expect(await client.get(key).string()).toBe('v1'));
    await server.restart({ empty: true });
    remember(server);
    await withEtcd(server.endpoint, async (client) => expect(await client.get(key).string()).toBeNull());
  });

  it('kill() ends the process; restart() after it works; stop() removes the data dir', async () => {
    const pid = server.pid;
    await server.kill();
    expect(pidAlive(pid ?? -1)).toBe(false);
    expect(await connectResult(server.port)).toBe('ECONNREFUSED');
    await server.restart();
    remember(server);
    expect(await health(server.endpoint)).toMatchObject({ health: 'true' });
    const dir = server.dataDir ?? '';
    expect(existsSync(dir)).toBe(true);
    await server.stop();
    expect(existsSync(dir)).toBe(false);
  });
});

describe('etcd cluster', () => {
  it('elects one leader, survives losing it, re-admits members', async () => {
    const cluster = await startEtcdCluster(3);
    cluster.members.forEach(remember);
    try {
      expect(cluster.members).toHaveLength(3);
      expect(new Set(cluster.members.map((m) => m.name)).size).toBe(3);
      expect(cluster.endpoints).toEqual(cluster.members.map((m) => m.endpoint));
      for (const endpoint of cluster.endpoints) expect(await health(endpoint)).toMatchObject({ health: 'true' });

      const statuses = await Promise.all(cluster.endpoints.map(status));
      const selfLeaders = cluster.members.filter((_, i) => statuses[i]?.leader === statuses[i]?.header.member_id);
      expect(selfLeaders).toHaveLength(1);
      const leader = await cluster.leader();
      expect(leader).toBe(selfLeaders[0]);

      await leader.kill();
      const failover = await elapsed(async () => {
        for (;;) {
          const next = await cluster.leader();
          if (next !== leader) return next;
        }
      });
      expect(failover.result.status).toBe('fulfilled');
      expect(failover.ms).toBeLessThan(5_000);
      const newLeader = (failover.result as PromiseFulfilledResult<EtcdServer>).value;
      expect(newLeader.pid).toBeTypeOf('number');

      const remaining = cluster.members.filter((m) => m !== leader).map((m) => m.endpoint);
      const key = `harness/${randomUUID()}`;
      await withEtcd(remaining, async (client) => {
        await client.put(key).value('after-failover');
        expect(await client.get(key).string()).toBe('after-failover');
      });

      // The old leader comes back with its data; a follower wiped clean re-joins as a new member.
      await leader.restart();
      remember(leader);
      await withEtcd(leader.endpoint, async (client) => expect(await client.get(key).string()).toBe('after-failover'));
      const follower = cluster.members.find((m) => m !== newLeader && m !== leader) as EtcdServer;
      await follower.restart({ empty: true });
      remember(follower);
      await withEtcd(follower.endpoint, async (client) => expect(await client.get(key).string()).toBe('after-failover'));
      for (const endpoint of cluster.endpoints) expect(await health(endpoint)).toMatchObject({ health: 'true' });
    } finally {
      await cluster.stop();
    }
    for (const member of cluster.members) {
      expect(member.pid).toBeUndefined();
      expect(await connectResult(member.port)).toBe('ECONNREFUSED');
    }
  });
});
