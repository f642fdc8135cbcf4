import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LockBackendError } from '@dlock/core';
import { freePort, ServerStartError, startRedis, uniqueKey, type RedisServer } from '@dlock/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLock } from '../src/index.js';
import { adminClient, timed } from './helpers/redis.js';

const run = promisify(execFile);

describe('ACL username/password', () => {
  let server: RedisServer;
  let admin: Redis;
  beforeAll(async () => {
    server = await startRedis({ password: 'admin-secret' });
    admin = adminClient(server.port, { password: 'admin-secret' });
    // A user that may only touch the 'tenant7' lock namespace: keys and channels alike.
    await admin.call('ACL', 'SETUSER', 'locker', 'on', '>s3cret', '~tenant7:*', '&tenant7:*', '+@all');
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
  });

  it('username/password pass through; keys and release channel stay inside the prefix', async () => {
    const options = { host: server.host, port: server.port, username: 'locker', password: 's3cret' };
    const a = new RedisLock(options, { prefix: 'tenant7' });
    const b = new RedisLock(options, { prefix: 'tenant7' });
    try {
      const key = uniqueKey();
      const h = (await a.tryLock(key, { ttl: 10_000 }))!;
      expect(h).not.toBeNull();
      expect(await b.isLocked(key)).toBe(true);
      const waiting = b.lock(key, { waitTimeout: 3_000 }); // subscribes to tenant7:{...}:released
      await new Promise((resolve) => setTimeout(resolve, 100));
      const releasedAt = performance.now();
      await h.release();
      const next = await waiting;
      expect(performance.now() - releasedAt).toBeLessThan(500); // woken by the message, not by polling
      await next.release();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('the same user outside its prefix, or a wrong password, fails with LockBackendError', async () => {
    const outside = new RedisLock({ host: server.host, port: server.port, username: 'locker', password: 's3cret' });
    const wrong = new RedisLock(
      { host: server.host, port: server.port, username: 'locker', password: 'nope' },
      { operationTimeout: 1_000 },
    );
    try {
      const denied = await outside.tryLock(uniqueKey()).catch((e: unknown) => e);
      expect(denied).toBeInstanceOf(LockBackendError);
      expect(String((denied as Error).cause)).toMatch(/NOPERM/);
      const { ms, error } = await timed(wrong.tryLock(uniqueKey()));
      expect(error).toBeInstanceOf(LockBackendError);
      expect(ms).toBeLessThan(1_500);
    } finally {
      await Promise.all([outside.close(), wrong.close()]);
    }
  });
});

/** Makes a self-signed certificate for 127.0.0.1 with openssl, in a temp dir. */
async function selfSignedCert(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ]);
  return { cert, key };
}

/**
 * Whether the local redis-server speaks TLS: it is started with `--tls-port` and a
 * self-signed certificate. A build without TLS refuses to start; the reason is kept.
 */
async function startTlsRedis(): Promise<{ supported: true; server: RedisServer; tlsPort: number; cert: string } | { supported: false; reason: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'dlock-tls-'));
  cleanupDirs.push(dir);
  const { cert, key } = await selfSignedCert(dir);
  const tlsPort = await freePort();
  try {
    const server = await startRedis({
      args: ['--tls-port', String(tlsPort), '--tls-cert-file', cert, '--tls-key-file', key, '--tls-ca-cert-file', cert, '--tls-auth-clients', 'no'],
    });
    return { supported: true, server, tlsPort, cert };
  } catch (error) {
    if (error instanceof ServerStartError) return { supported: false, reason: error.message };
    throw error;
  }
}

const cleanupDirs: string[] = [];
const tls = await startTlsRedis();

describe('TLS', () => {
  afterAll(async () => {
    if (tls.supported) await tls.server.stop();
    for (const dir of cleanupDirs) rmSync(dir, { recursive: true, force: true });
  });

  if (!tls.supported) {
    it('TLS NOT TESTED: the local redis-server has no tls-port support (detected at start-up)', () => {
      expect(tls.supported).toBe(false);
      expect(tls.reason).toMatch(/tls|exited|not ready/i);
    });
    return;
  }

  it('TLS detected: the local redis-server supports tls-port; locking, waiting and wake-up work over it', async () => {
    const options = { host: '127.0.0.1', port: tls.tlsPort, tls: { ca: readFileSync(tls.cert) } };
    const a = new RedisLock(options);
    const b = new RedisLock(options);
    const plain = new RedisLock({ host: '127.0.0.1', port: tls.tlsPort }, { operationTimeout: 500 });
    try {
      const key = uniqueKey();
      const h = (await a.tryLock(key, { ttl: 10_000 }))!;
      expect(h).not.toBeNull();
      const waiting = b.lock(key, { waitTimeout: 3_000 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const releasedAt = performance.now();
      await h.release();
      const next = await waiting;
      expect(performance.now() - releasedAt).toBeLessThan(500);
      expect(next.fencingToken).toBeGreaterThan(h.fencingToken);
      await next.release();
      // The port really only speaks TLS: a plain-text client gets nowhere.
      await expect(plain.tryLock(key)).rejects.toBeInstanceOf(LockBackendError);
    } finally {
      await Promise.all([a.close(), b.close(), plain.close()]);
    }
  });
});
