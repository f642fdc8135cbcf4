// Usage errors, help and version through the built binary; parsing in-process.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, parseBackend, parseDuration, parseInvocation, UsageError } from '../src/index.js';
import { dlock, ensureBuilt, packageDir } from './helpers/dlock.js';

const memory = { DLOCK_BACKEND: 'memory' };

describe('the dlock binary: usage', () => {
  beforeAll(ensureBuilt);

  it.each([
    [['run', 'k', '--ttl', 'abc', '--', 'true'], /--ttl must be a duration/],
    [['run', 'k', '--ttl', '--', 'true'], /--ttl needs a value/],
    [['run', 'k', '--bogus', '--', 'true'], /unknown option --bogus/],
    [['run', 'k', '--json', '--', 'true'], /--json is an option of dlock inspect or dlock leader, not of dlock run/],
    [['run', 'k', 'echo', 'hi'], /put the command after "--"/],
    [['run', 'k'], /needs a command after "--"/],
    [['run', '--', 'true'], /needs a <key>/],
    [['run', 'k', '--fence-env', 'NOT-A-NAME', '--', 'true'], /--fence-env must be an environment variable name/],
    [['inspect', 'k', 'extra'], /takes one <key>/],
    [['frobnicate', 'k'], /unknown command "frobnicate"/],
    [['run', 'k', '--backend', 'mongodb://127.0.0.1', '--', 'true'], /unknown backend "mongodb:\/\/127\.0\.0\.1"/],
    [['run', 'k', '--backend', 'redlock://a:1,,b:2', '--', 'true'], /none empty/],
  ])('dlock %j exits 2 with a message and runs nothing', async (args, message) => {
    const result = await dlock(args, memory);
    expect(result.code).toBe(ExitCode.USAGE);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/^usage: dlock/m);
  });

  it('without a backend it says how to name one (exit 2)', async () => {
    const result = await dlock(['run', 'k', '--', 'true']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no backend: pass --backend or set DLOCK_BACKEND/);
  });

  it('a password in a backend URL is not printed', async () => {
    const result = await dlock(['inspect', 'k', '--backend', 'mongodb://user:hunter2@db']);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toMatch(/hunter2/);
    expect(result.stderr).toMatch(/user:\*\*\*@db/);
  });

  it('--help for every command, --version, and usage on a bare `dlock`', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const result = await dlock(args);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/dlock run <key> \[options\] -- <command>/);
      expect(result.stdout).toMatch(/dlock inspect <key>/);
    }
    for (const args of [['run', '--help'], ['help', 'run'], ['run', 'k', '-h', '--', 'true']]) {
      const result = await dlock(args);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: dlock run/);
      expect(result.stdout).toMatch(/--fence-env/);
    }
    const inspect = await dlock(['inspect', '--help']);
    expect(inspect).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: dlock inspect[\s\S]*--json/) });
    const version = await dlock(['--version']);
    const manifest = JSON.parse(readFileSync(`${packageDir}/package.json`, 'utf8')) as { version: string };
    expect(version).toMatchObject({ code: 0, stdout: `${manifest.version}\n` });
    const bare = await dlock([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^dlock: distributed locks/);
  });

  it('memory backend: runs the command with the fencing token, passes its output and exit code', async () => {
    const result = await dlock(['run', 'k', '--verbose', '--', process.execPath, '-e', 'console.log("token", process.env.DLOCK_FENCING_TOKEN); process.exit(4)'], memory);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('token 1\n');
    expect(result.stderr).toMatch(/acquired lock "k" on memory \(fencing token 1, ttl 30000 ms\)/);
    expect(result.stderr).toMatch(/released lock "k"/);
  });
});

describe('parsing (in-process)', () => {
  it('backends', () => {
    expect(parseBackend('memory')).toEqual({ kind: 'memory' });
    expect(parseBackend('redis://:pw@h:6380/2')).toEqual({ kind: 'redis', url: 'redis://:pw@h:6380/2' });
    expect(parseBackend('rediss://h')).toEqual({ kind: 'redis', url: 'rediss://h' });
    expect(parseBackend('etcd://a:2379, b:32379,c')).toEqual({ kind: 'etcd', hosts: ['http://a:2379', 'http://b:32379', 'http://c:2379'] });
    expect(parseBackend('redlock://a:1,b,:pw@c:3')).toEqual({ kind: 'redlock', nodes: ['redis://a:1', 'redis://b:6379', 'redis://:pw@c:3'] });
    for (const bad of ['', 'redis', 'http://h:1', 'etcd://', 'etcd://a:1,', 'etcd://u:p@a:1', 'etcd://a:1/path', 'redis://h:99999', 'redlock://a:1?x=1']) {
      expect(() => parseBackend(bad), bad).toThrow(UsageError);
    }
  });

  it('durations', () => {
    expect(parseDuration('--ttl', '1500')).toBe(1500);
    expect(parseDuration('--ttl', '1.5s')).toBe(1500);
    expect(parseDuration('--ttl', '2m')).toBe(120_000);
    expect(parseDuration('--ttl', '1h')).toBe(3_600_000);
    expect(parseDuration('--ttl', '250ms')).toBe(250);
    for (const bad of ['', '-1', '1d', 'abc', '1e3']) expect(() => parseDuration('--ttl', bad), bad).toThrow(UsageError);
  });

  it('run: defaults, flags anywhere before "--", nothing after "--" read as a flag; the flag beats the environment', () => {
    const run = parseInvocation(['--backend', 'memory', 'run', 'jobs', '--wait', '0', '--', 'ls', '--ttl', '-la'], { DLOCK_BACKEND: 'redis://h' });
    expect(run).toMatchObject({
      command: 'run',
      key: 'jobs',
      argv: ['ls', '--ttl', '-la'],
      ttl: 30_000,
      wait: 0,
      grace: 10_000,
      fenceEnv: 'DLOCK_FENCING_TOKEN',
      backend: { kind: 'memory' },
      prefix: undefined,
      unavailableTimeout: undefined,
    });
    expect(parseInvocation(['run', 'k', '--', 'x'], { DLOCK_BACKEND: 'redis://h', DLOCK_PREFIX: 'p' })).toMatchObject({
      wait: undefined,
      prefix: 'p',
      backend: { kind: 'redis' },
    });
    expect(parseInvocation(['inspect', 'k', '--json', '-b', 'memory', '--prefix', '', '--unavailable-timeout', '2s'])).toMatchObject({
      command: 'inspect',
      json: true,
      prefix: '',
      unavailableTimeout: 2_000,
    });
  });
});
