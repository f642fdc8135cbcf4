import { existsSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { liveChildPids, startPostgres, stopAllServers, type PostgresServer } from '../src/servers/index.js';
import { procState } from '../src/servers/process.js';

// The local-process harness of PostgreSQL (pids, process groups, signals, data dirs).
const savedMode = process.env['DLOCK_TEST_SERVERS'];
process.env['DLOCK_TEST_SERVERS'] = 'local';

/** The postmaster's children (backends, checkpointer, ...) from /proc, with their state letter. */
function children(pid: number): Array<{ pid: number; state: string }> {
  const found: Array<{ pid: number; state: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) found.push({ pid: Number(entry), state: fields[0] ?? '' });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Whether `pid` runs (a zombie waiting for init to reap it has ended). */
function running(pid: number): boolean {
  const state = procState(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** Every pid a server ran as, children included, for the final check. */
function rememberTree(pid: number): void {
  seenPids.add(pid);
  for (const child of children(pid)) seenPids.add(child.pid);
}

/**
 * A bare wire-protocol session (trust authentication, simple queries): enough to see a server
 * answer, hang or refuse, without a client library. `query` resolves with the first column of
 * each row, or rejects with the server's error or after `timeoutMs`.
 */
async function session(port: number): Promise<{ query(sql: string, timeoutMs?: number): Promise<string[]>; close(): void }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  let buffered = Buffer.alloc(0);
  let waiter: ((message: { type: string; body: Buffer }) => void) | undefined;
  const queue: Array<{ type: string; body: Buffer }> = [];
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 5 && buffered.length >= 1 + buffered.readInt32BE(1)) {
      const length = buffered.readInt32BE(1);
      queue.push({ type: String.fromCharCode(buffered[0] ?? 0), body: buffered.subarray(5, 1 + length) });
      buffered = buffered.subarray(1 + length);
    }
    while (waiter !== undefined && queue.length > 0) waiter(queue.shift()!);
  });
  socket.on('error', () => undefined);
  const next = (timeoutMs: number) =>
    new Promise<{ type: string; body: Buffer }>((resolve, reject) => {
      const queued = queue.shift();
      if (queued !== undefined) return resolve(queued);
      const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      waiter = (message) => {
        clearTimeout(timer);
        waiter = undefined;
        resolve(message);
      };
    });
  const frame = (type: string, body: Buffer): Buffer => {
    const head = Buffer.alloc(type === '' ? 4 : 5);
    if (type !== '') head.write(type);
    head.writeInt32BE(body.length + 4, type === '' ? 0 : 1);
    return Buffer.concat([head, body]);
  };
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(frame('', Buffer.concat([Buffer.from([0, 3, 0, 0]), Buffer.from('user\0postgres\0database\0postgres\0\0')])));
  for (let m = await next(5_000); m.type !== 'Z'; m = await next(5_000)) if (m.type === 'E') throw new Error(m.body.toString());
  return {
    async query(sql, timeoutMs = 5_000) {
      socket.write(frame('Q', Buffer.from(`${sql}\0`)));
      const rows: string[] = [];
      let error: string | undefined;
      for (let m = await next(timeoutMs); m.type !== 'Z'; m = await next(timeoutMs)) {
        if (m.type === 'E') error = m.body.toString().replace(/\0/g, ' ');
        if (m.type === 'D' && m.body.readInt16BE(0) > 0) {
          const length = m.body.readInt32BE(2);
          rows.push(length < 0 ? '' : m.body.subarray(6, 6 + length).toString());
        }
      }
      if (error !== undefined) throw new Error(error);
      return rows;
    },
    close: () => socket.destroy(),
  };
}

async function scalar(server: PostgresServer, sql: string): Promise<string | undefined> {
  const s = await session(server.port);
  try {
    return (await s.query(sql))[0];
  } finally {
    s.close();
  }
}

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

const seenPids = new Set<number>();
const seenDirs = new Set<string>();

afterAll(async () => {
  if (savedMode === undefined) delete process.env['DLOCK_TEST_SERVERS'];
  else process.env['DLOCK_TEST_SERVERS'] = savedMode;
  await stopAllServers();
  expect(liveChildPids()).toEqual([]);
  expect(seenPids.size).toBeGreaterThan(0);
  for (const pid of seenPids) {
    expect(running(pid), `pid ${pid} still alive`).toBe(false);
  }
  for (const dir of seenDirs) expect(existsSync(dir), `${dir} still exists`).toBe(false);
});

describe('postgres', () => {
  let server: PostgresServer;

  it('starts on a loopback port (as the postgres user when root) and answers queries', async () => {
    const started = performance.now();
    server = await startPostgres();
    const pid = server.pid!;
    seenPids.add(pid);
    seenDirs.add(server.dataDir!);
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`postgres://postgres@127.0.0.1:${server.port}/postgres`);
    expect(server.dataDir).toMatch(/dlock-postgres-/);
    expect(await scalar(server, "SELECT current_setting('listen_addresses')")).toBe('127.0.0.1');
    expect(await scalar(server, 'SELECT pg_backend_pid() > 0')).toBe('t');
    // The postmaster's helpers (checkpointer, walwriter, ...) are its children.
    expect(children(pid).length).toBeGreaterThan(1);
    rememberTree(pid);
    if (process.getuid?.() === 0) {
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      expect(Number(uid)).not.toBe(0);
    }
    expect(performance.now() - started).toBeLessThan(15_000);
  });

  it('pause() stops the backends too: an open session hangs; resume() answers it', async () => {
    const s = await session(server.port);
    try {
      await s.query('CREATE TABLE harness_kept (v int)');
      rememberTree(server.pid!);
      await server.pause();
      expect(children(server.pid!).every((c) => c.state === 'T')).toBe(true);
      const pending = s.query('SELECT 1', 10_000);
      const early = await Promise.race([pending, new Promise((resolve) => setTimeout(() => resolve('no answer'), 500))]);
      expect(early).toBe('no answer');
      await server.resume();
      // The query sent while paused is answered now; the next one as well.
      expect(await pending).toEqual(['1']);
      expect(await s.query('SELECT 2')).toEqual(['2']);
    } finally {
      s.close();
    }
  });

  it('kill() ends the postmaster and every backend at once; restart() comes back on the same port with the data', async () => {
    const pid = server.pid!;
    const before = children(pid).map((c) => c.pid);
    await server.kill();
    expect(running(pid)).toBe(false);
    expect(before.filter(running)).toEqual([]);
    expect(server.pid).toBeUndefined();
    expect(await connectResult(server.port)).toBe('ECONNREFUSED');
    await server.restart();
    rememberTree(server.pid!);
    expect(await scalar(server, "SELECT count(*) FROM pg_tables WHERE tablename = 'harness_kept'")).toBe('1');
  });

  it('restart() with a session open is a fast shutdown (the session is dropped, not waited for)', async () => {
    const s = await session(server.port);
    const started = performance.now();
    await server.restart();
    rememberTree(server.pid!);
    expect(performance.now() - started).toBeLessThan(2_500);
    await expect(s.query('SELECT 1', 1_000)).rejects.toThrow();
    s.close();
  });

  it('restart({ empty: true }) comes back without the data', async () => {
    await server.restart({ empty: true });
    rememberTree(server.pid!);
    expect(await scalar(server, "SELECT count(*) FROM pg_tables WHERE tablename = 'harness_kept'")).toBe('0');
  });

  it('stop() of a paused server with a session open ends every process and removes the data directory; it is final', async () => {
    const pid = server.pid!;
    const dir = server.dataDir!;
    const s = await session(server.port);
    const before = children(pid).map((c) => c.pid);
    await server.pause();
    const started = performance.now();
    await server.stop();
    expect(performance.now() - started).toBeLessThan(2_500);
    s.close();
    expect(running(pid)).toBe(false);
    expect(before.filter(running)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    await server.stop(); // idempotent
    await expect(server.restart()).rejects.toThrow(/stop\(\) is final/);
  });

  it('two servers get distinct ports and data directories', async () => {
    const [a, b] = await Promise.all([startPostgres(), startPostgres()]);
    for (const s of [a, b]) {
      rememberTree(s!.pid!);
      seenDirs.add(s!.dataDir!);
    }
    expect(a!.port).not.toBe(b!.port);
    expect(a!.dataDir).not.toBe(b!.dataDir);
    expect(await scalar(a!, 'SELECT 1')).toBe('1');
    await Promise.all([a!.stop(), b!.stop()]);
  });
});
