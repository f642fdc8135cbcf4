// `dlock elect` and `dlock leader` through the built binary: against a real redis-server (the
// cron-on-every-pod case, take-over after the leader's process is killed), etcd (etcdctl's
// layout) and usage errors.
import { spawnSync } from 'node:child_process';
import { startEtcd, startRedis, uniqueKey, type EtcdServer, type RedisServer } from '@dlock/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dlock, ensureBuilt, node, start, type Running } from './helpers/dlock.js';

const started: Running[] = [];
function elect(args: string[], env: Record<string, string>): Running {
  const running = start(['elect', ...args], env);
  started.push(running);
  return running;
}
/** Stops a dlock and the command it started (a SIGKILLed dlock leaves its command behind). */
function killCommand(stdout: string): void {
  const pid = /leading \d+ (\d+)/.exec(stdout)?.[1];
  if (pid !== undefined) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
afterEach(async () => {
  for (const running of started.splice(0)) {
    killCommand(running.stdout);
    if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL');
    await running.done.catch(() => undefined);
  }
});

beforeAll(async () => {
  await ensureBuilt();
});

describe('dlock elect on Redis', () => {
  let server: RedisServer;
  let env: Record<string, string>;
  beforeAll(async () => {
    server = await startRedis();
    env = { DLOCK_BACKEND: server.url };
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('on three processes exactly one runs the command; killing its dlock lets another take over after the TTL, not before', async () => {
    const name = uniqueKey();
    const ttl = 3_000;
    const runs = ['a', 'b', 'c'].map((id) => elect([name, '--ttl', `${ttl}ms`, '--value', `pod-${id}`, '--', ...node('leader.mjs')], env));
    const first = await Promise.any(runs.map((r) => r.waitFor(/leading (\d+) (\d+)/).then((m) => ({ run: r, term: BigInt(m[1]!) }))));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(runs.filter((r) => r.stdout.includes('leading'))).toHaveLength(1);

    const shown = await dlock(['leader', name, '--json'], env);
    expect(shown.code, shown.stderr).toBe(0);
    const id = ['a', 'b', 'c'][runs.indexOf(first.run)];
    expect(JSON.parse(shown.stdout)).toEqual({ name, leader: true, value: `pod-${id}`, term: String(first.term) });

    const killedAt = performance.now();
    first.run.child.kill('SIGKILL'); // no resign: the lease must run out
    killCommand(first.run.stdout);
    const others = runs.filter((r) => r !== first.run);
    const next = await Promise.any(others.map((r) => r.waitFor(/leading (\d+)/, 15_000).then((m) => ({ run: r, term: BigInt(m[1]!) }))));
    const took = performance.now() - killedAt;
    // The lease was renewed at most ttl/3 before the kill: it ends 2/3 ttl to ttl after it.
    expect(took).toBeGreaterThanOrEqual((ttl * 2) / 3 - 100);
    expect(took).toBeLessThan(ttl + 3_000);
    expect(next.term).toBeGreaterThan(first.term);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(others.filter((r) => r.stdout.includes('leading'))).toHaveLength(1);
  });

  it('the cron case: with --wait 0 one process runs the job, the others exit 75 without running it', async () => {
    const name = uniqueKey();
    const job = [process.execPath, '-e', 'console.log("job ran"); setTimeout(() => {}, 1000)'];
    const results = await Promise.all(['a', 'b', 'c'].map(() => elect([name, '--wait', '0', '--', ...job], env).done));
    expect(results.map((r) => r.code).sort()).toEqual([0, 75, 75]);
    expect(results.filter((r) => r.stdout.includes('job ran'))).toHaveLength(1);
    const free = await dlock(['leader', name, '--json'], env);
    expect(JSON.parse(free.stdout)).toEqual({ name, leader: false });
    expect((await dlock(['leader', name], env)).stdout).toBe(`election "${name}" has no leader\n`);
  });

  it('after the leader resigns (its command ended) the next candidate runs the command, with a higher term', async () => {
    const name = uniqueKey();
    const short = [process.execPath, '-e', 'console.log("term " + process.env.DLOCK_FENCING_TOKEN); setTimeout(() => {}, 300)'];
    const results = await Promise.all([0, 1].map(() => elect([name, '--', ...short], env).done));
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    const terms = results.map((r) => BigInt(/term (\d+)/.exec(r.stdout)![1]!)).sort((x, y) => (x < y ? -1 : 1));
    expect(terms[1]).toBeGreaterThan(terms[0]!);
  });
});

describe('dlock elect on etcd', () => {
  let server: EtcdServer;
  beforeAll(async () => {
    server = await startEtcd();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('with --prefix "" the leader holds the key of `etcdctl elect <name>`: etcdctl sees its value', async () => {
    const name = `dlock-cli-test-${uniqueKey('e')}`.replace(/:/g, '-');
    const env = { DLOCK_BACKEND: `etcd://${new URL(server.endpoint).host}` };
    const leader = elect(['--prefix', '', name, '--value', 'from-dlock', '--ttl', '5s', '--', ...node('leader.mjs')], env);
    const [, term] = await leader.waitFor(/leading (\d+)/);
    const listed = spawnSync('etcdctl', ['--endpoints', server.endpoint, 'get', '--prefix', `${name}/`], {
      env: { ...process.env, ETCDCTL_API: '3' },
      encoding: 'utf8',
    });
    expect(listed.stdout).toMatch(new RegExp(`^${name}/[0-9a-f]+\\nfrom-dlock\\n$`));
    const shown = await dlock(['--prefix', '', 'leader', name, '--json'], env);
    expect(JSON.parse(shown.stdout)).toEqual({ name, leader: true, value: 'from-dlock', term });
    leader.child.kill('SIGTERM'); // passed on to the command; dlock then resigns
    expect((await leader.done).code).toBe(143);
    expect(JSON.parse((await dlock(['--prefix', '', 'leader', name, '--json'], env)).stdout)).toEqual({ name, leader: false });
  });
});

describe('dlock elect and leader: usage', () => {
  it('refuses Redlock, a missing command or name, and shows its help', async () => {
    const redlock = await dlock(['elect', 'x', '-b', 'redlock://127.0.0.1:1,127.0.0.1:2,127.0.0.1:3', '--', 'true']);
    expect(redlock.code).toBe(2);
    expect(redlock.stderr).toMatch(/elections need one Redis server .* Redlock offers a mutex only/);
    const noCommand = await dlock(['elect', 'x', '-b', 'memory']);
    expect(noCommand.code).toBe(2);
    expect(noCommand.stderr).toMatch(/dlock elect needs a command after "--"/);
    expect(noCommand.stderr).toMatch(/usage: dlock elect <name>/);
    const noName = await dlock(['leader', '-b', 'memory']);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toMatch(/dlock leader needs a <name>/);
    const wrong = await dlock(['leader', 'x', '-b', 'memory', '--ttl', '5s']);
    expect(wrong.stderr).toMatch(/--ttl is an option of dlock run or dlock elect, not of dlock leader/);
    const help = await dlock(['elect', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: dlock elect <name>/);
    expect((await dlock(['help', 'leader'])).stdout).toMatch(/^Usage: dlock leader <name> \[--json\]/);
  });

  it('on memory: elects in one process and runs the command with the term', async () => {
    const result = await dlock(['elect', 'job', '-b', 'memory', '--', process.execPath, '-e', 'console.log("term", process.env.DLOCK_FENCING_TOKEN)']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^term \d+\n$/);
  });
});
