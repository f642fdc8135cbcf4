import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startRedis, uniqueKey, type RedisServer } from '@dlock/testkit';
import {
  ScriptCache,
  UnexpectedReplyError,
  defineScript,
  flag,
  hashTag,
  integer,
  redisLockKeys,
  releaseLatchKey,
  tuple,
} from '@dlock/redis/protocol';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterSlot } from '../src/cluster-slot.js';
import { UnexpectedReplyError as PublicUnexpectedReplyError, redisLockKeys as publicRedisLockKeys } from '../src/index.js';
import { adminClient, commandCalls } from './helpers/redis.js';

// The protocol module shared by @dlock/redis and @dlock/redlock: typed scripts through the one
// loader, one reply error, one key encoding.

/** A script of its own per test run, so no other test has it in the server's cache. */
const counter = (tag: string) =>
  defineScript<readonly [key: string, by: number], number>({
    name: 'count',
    source: `-- count (${tag}): KEYS[1] a counter, ARGV[1] the step; returns the new value\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`,
    keys: 1,
    parse: (reply) => integer(reply),
  });

let server: RedisServer;
let admin: Redis;

beforeAll(async () => {
  server = await startRedis();
  admin = adminClient(server.port);
});
afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

describe('defineScript', () => {
  it('run() falls back to EVAL when the server lost the script (SCRIPT FLUSH), then uses EVALSHA again', async () => {
    const script = counter(uniqueKey('flush'));
    const key = uniqueKey('count');
    await admin.script('FLUSH');
    const before = await commandCalls(admin);
    expect(await script.run(admin, [key, 2])).toBe(2); // EVALSHA -> NOSCRIPT -> EVAL
    expect(await admin.script('EXISTS', script.sha)).toEqual([1]);
    expect(await script.run(admin, [key, 3])).toBe(5); // EVALSHA
    const after = await commandCalls(admin);
    expect((after.eval ?? 0) - (before.eval ?? 0)).toBe(1);
    expect((after.evalsha ?? 0) - (before.evalsha ?? 0)).toBe(2);
  });

  it('with a connection cache, the first call sends the source; after a flush it recovers and re-learns', async () => {
    const script = counter(uniqueKey('cache'));
    const key = uniqueKey('count');
    const cache = new ScriptCache();
    const before = await commandCalls(admin);
    expect(await script.run(admin, [key, 1], cache)).toBe(1); // EVAL: unknown to this connection
    expect(cache.has(script)).toBe(true);
    await admin.script('FLUSH');
    expect(await script.run(admin, [key, 1], cache)).toBe(2); // EVALSHA -> NOSCRIPT -> EVAL
    expect(cache.has(script)).toBe(true);
    const after = await commandCalls(admin);
    expect((after.eval ?? 0) - (before.eval ?? 0)).toBe(2);
    expect((after.evalsha ?? 0) - (before.evalsha ?? 0)).toBe(1);
  });

  it('runMany() sends one EVAL and EVALSHAs in one pipeline, and sends calls answered NOSCRIPT again', async () => {
    const script = counter(uniqueKey('many'));
    const keys = Array.from({ length: 5 }, () => uniqueKey('count'));
    await admin.script('FLUSH');
    const before = await commandCalls(admin);
    expect(await script.runMany(admin, keys.map((k) => [k, 1] as const))).toEqual([1, 1, 1, 1, 1]);
    const after = await commandCalls(admin);
    expect((after.eval ?? 0) - (before.eval ?? 0)).toBe(1);
    expect((after.evalsha ?? 0) - (before.evalsha ?? 0)).toBe(4);
    // A cache that believes the server has the script, which was flushed meanwhile: every call
    // is answered NOSCRIPT and sent again, opening with EVAL.
    const cache = new ScriptCache();
    cache.add(script);
    await admin.script('FLUSH');
    expect(await script.runMany(admin, keys.map((k) => [k, 10] as const), { cache })).toEqual([11, 11, 11, 11, 11]);
    expect(await admin.script('EXISTS', script.sha)).toEqual([1]);
  });

  it('a malformed reply is an UnexpectedReplyError naming the script and the reply, from run() and per call from runMany()', async () => {
    const script = defineScript<readonly [value: string], boolean>({
      name: 'echo-flag',
      source: '-- echo-flag: KEYS none, ARGV[1] a value; returns it\nreturn ARGV[1]',
      keys: 0,
      parse: (reply) => flag(reply),
    });
    expect(await script.run(admin, ['1'])).toBe(true);
    const error = await script.run(admin, ['maybe']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnexpectedReplyError);
    expect(error).toBeInstanceOf(PublicUnexpectedReplyError); // one class: the one @dlock/redis exports
    expect((error as UnexpectedReplyError).name).toBe('UnexpectedReplyError');
    expect((error as UnexpectedReplyError).script).toBe('echo-flag');
    expect((error as UnexpectedReplyError).reply).toBe('maybe');
    expect((error as Error).message).toBe('unexpected reply to the echo-flag script: "maybe" (flag: expected an integer, got "maybe")');
    const many = await script.runMany(admin, [['0'], ['2'], ['1']]);
    expect(many[0]).toBe(false);
    expect(many[1]).toBeInstanceOf(UnexpectedReplyError);
    expect((many[1] as Error).message).toContain('expected 0 or 1, got "2"');
    expect(many[2]).toBe(true);
    // An error reply of the server is that call's Error, not a malformed reply.
    const failing = defineScript<readonly [], number>({
      name: 'fails',
      source: "-- fails: KEYS none, ARGV none; returns an error reply\nreturn redis.error_reply('NOPE no')",
      keys: 0,
      parse: (reply) => integer(reply),
    });
    const replyError = await failing.run(admin, []).catch((e: unknown) => e);
    expect(replyError).not.toBeInstanceOf(UnexpectedReplyError);
    expect((replyError as Error).message).toMatch(/^NOPE no/);
  });

  it('the reply helpers accept what ioredis may return and say what they expected', () => {
    expect(integer('-2')).toBe(-2);
    expect(flag('1')).toBe(true);
    expect(() => integer('')).toThrow('expected an integer');
    expect(() => tuple([1], 2, 3)).toThrow('expected an array of 2 or 3 elements');
  });
});

describe('key encoding (@dlock/redis and, on every node, @dlock/redlock)', () => {
  it('escapes % and } inside the hash tag, one-to-one; every name of a lock shares its Cluster slot', () => {
    expect(hashTag('device:42')).toBe('device:42');
    expect(hashTag('a}b%c')).toBe('a%7Db%25c');
    const keys = redisLockKeys('dlock', 'a}b%c');
    expect(keys).toEqual({ lock: 'dlock:{a%7Db%25c}', fence: 'dlock:{a%7Db%25c}:fence', channel: 'dlock:{a%7Db%25c}:released' });
    expect(releaseLatchKey(keys, 'f'.repeat(32))).toBe(`dlock:{a%7Db%25c}:released:${'f'.repeat(32)}`);
    const slot = clusterSlot('a%7Db%25c');
    for (const name of [keys.lock, keys.fence, keys.channel, releaseLatchKey(keys, 'abc')]) expect(clusterSlot(name)).toBe(slot);
    // Distinct keys never share names, although `%7D` and `}` look alike once escaped.
    expect(redisLockKeys('dlock', 'a%7Db').lock).toBe('dlock:{a%257Db}');
    expect(redisLockKeys('dlock', 'a%7Db').lock).not.toBe(redisLockKeys('dlock', 'a}b').lock);
    // The public export is this function.
    expect(publicRedisLockKeys).toBe(redisLockKeys);
  });
});

describe('one copy of the protocol', () => {
  it('@dlock/redis imports it by its package name outside src/protocol/ (the build keeps it in dist/protocol.*)', () => {
    const src = new URL('../src/', import.meta.url).pathname;
    const files = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? (name === 'protocol' ? [] : files(path)) : path.endsWith('.ts') ? [path] : [];
      });
    const relative = files(src).filter((file) => /from '\.\.?\/(?:[^']*\/)?protocol\//.test(readFileSync(file, 'utf8')));
    expect(relative).toEqual([]);
  });
});
