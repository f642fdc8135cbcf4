// EtcdElection: the election contract, Go's concurrency.Election layout, and interop both ways
// with the real `etcdctl elect` (a Go client of the same protocol).
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEtcd, uniqueKey, waitFor, type EtcdServer } from '@dlock/testkit';
import { electionContractSuite } from '@dlock/testkit/contract';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EtcdElection, etcdClientOptions } from '../src/index.js';
import { testPrefix } from './helpers.js';

let server: EtcdServer;
let client: Etcd3;
const prefix = testPrefix();
beforeAll(async () => {
  server = await startEtcd();
  client = new Etcd3(etcdClientOptions({ hosts: server.endpoint }));
});
afterAll(async () => {
  client?.close();
  await server?.stop();
});

electionContractSuite('EtcdElection', () => new EtcdElection({ hosts: server.endpoint }, { prefix: `${prefix}contract/`, callTimeout: 10_000 }));

/** `etcdctl elect <name> [value]` (or `-l`, listening) in the background, its stdout as lines. */
interface Etcdctl {
  readonly child: ChildProcess;
  readonly lines: string[];
  stop(): Promise<void>;
}

const children: Etcdctl[] = [];
const elections: EtcdElection[] = [];

function etcdctlElect(...args: string[]): Etcdctl {
  const child = spawn('etcdctl', ['--endpoints', server.endpoint, 'elect', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let rest = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    lines.push(...parts);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ctl = {
    child,
    lines,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); // etcdctl resigns and revokes its lease
      await exited;
    },
  };
  children.push(ctl);
  return ctl;
}

function election(): EtcdElection {
  // prefix '': our campaign('x') and `etcdctl elect x` are the same election.
  const e = new EtcdElection(client, { prefix: '' });
  elections.push(e);
  return e;
}

afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.stop()));
  await Promise.allSettled(elections.splice(0).map((e) => e.close()));
});

describe('EtcdElection and etcdctl elect', () => {
  it("uses Go's layout: <prefix><name>/<lease hex> holding the value; the term is the key's create revision", async () => {
    const e = election();
    const name = `${prefix}layout`;
    const leadership = await e.campaign(name, 'pod-a', { ttl: 10_000 });
    const kvs = (await client.getAll().prefix(`${name}/`).exec()).kvs;
    expect(kvs).toHaveLength(1);
    const kv = kvs[0]!;
    expect(kv.key.toString()).toBe(`${name}/${BigInt(kv.lease).toString(16)}`);
    expect(kv.value.toString()).toBe('pod-a');
    expect(BigInt(kv.create_revision)).toBe(leadership.term);
    expect(e.directoryFor(name)).toBe(`${name}/`);
    await leadership.proclaim('pod-a2');
    const after = (await client.get(kv.key.toString()).exec()).kvs[0]!;
    expect(after.value.toString()).toBe('pod-a2');
    expect(after.create_revision).toBe(kv.create_revision);
    await leadership.resign();
    expect(await client.getAll().prefix(`${name}/`).keys()).toHaveLength(0);
  });

  it('while etcdctl elect leads, our campaign waits and sees its value; once etcdctl resigns we lead', async () => {
    const e = election();
    const name = `${prefix}${uniqueKey('ctl-leads')}`;
    const ctl = etcdctlElect(name, 'from-etcdctl');
    await waitFor(() => ctl.lines.includes('from-etcdctl'), 10_000);
    const ctlKey = ctl.lines[0]!;
    const ctlTerm = BigInt((await client.get(ctlKey).exec()).kvs[0]!.create_revision);
    expect(await e.leader(name)).toEqual({ value: 'from-etcdctl', term: ctlTerm });

    const seen: Array<string | null> = [];
    const observing = new AbortController();
    const observed = (async () => {
      for await (const l of e.observe(name, { signal: observing.signal })) seen.push(l === null ? null : `${l.value}@${l.term}`);
    })();
    let elected = false;
    const campaign = e.campaign(name, 'from-dlock', { ttl: 5_000 }).then((l) => ((elected = true), l));
    await sleep(700);
    expect(elected).toBe(false);
    const stoppedAt = performance.now();
    await ctl.stop();
    const leadership = await campaign;
    // Woken by the key's delete, not by etcdctl's 60 s lease (room for etcdctl's shutdown on a loaded machine).
    expect(performance.now() - stoppedAt).toBeLessThan(3_000);
    expect(leadership.term).toBeGreaterThan(ctlTerm);
    await waitFor(() => seen.includes(`from-dlock@${leadership.term}`), 3_000);
    observing.abort();
    await observed;
    expect(seen.filter((s) => s !== null)).toEqual([`from-etcdctl@${ctlTerm}`, `from-dlock@${leadership.term}`]);
    await leadership.resign();
  });

  it('while we lead, etcdctl elect waits and etcdctl elect -l sees our values; once we resign etcdctl leads', async () => {
    const e = election();
    const name = `${prefix}${uniqueKey('we-lead')}`;
    const leadership = await e.campaign(name, 'dlock-1', { ttl: 5_000 });
    const listener = etcdctlElect('-l', name);
    await waitFor(() => listener.lines.includes('dlock-1'), 10_000);
    const candidate = etcdctlElect(name, 'ctl-next');
    await sleep(1_000);
    expect(candidate.lines).toEqual([]); // still waiting: we lead
    await leadership.proclaim('dlock-2');
    await waitFor(() => listener.lines.includes('dlock-2'), 5_000);
    await leadership.resign();
    await waitFor(() => candidate.lines.includes('ctl-next'), 5_000);
    await waitFor(() => listener.lines.includes('ctl-next'), 5_000);
    const ctlTerm = BigInt((await client.get(candidate.lines[0]!).exec()).kvs[0]!.create_revision);
    expect(ctlTerm).toBeGreaterThan(leadership.term);
    expect(await e.leader(name)).toEqual({ value: 'ctl-next', term: ctlTerm });
    // etcdctl shows values in order: ours, our proclaimed one, then its own.
    expect(listener.lines.filter((l) => !l.startsWith(`${name}/`))).toEqual(['dlock-1', 'dlock-2', 'ctl-next']);
  });

  it('a leader whose lease is revoked loses its signal at once, and the next candidate leads', async () => {
    const a = election();
    const b = election();
    const name = `${prefix}${uniqueKey('revoked')}`;
    const leadership = await a.campaign(name, 'a', { ttl: 10_000 });
    const next = b.campaign(name, 'b', { ttl: 10_000 });
    const kv = (await client.getAll().prefix(`${name}/`).exec()).kvs.find((k) => BigInt(k.create_revision) === leadership.term)!;
    await client.leaseClient.leaseRevoke({ ID: kv.lease });
    await waitFor(() => !leadership.held, 3_000);
    const won = await next;
    expect(won.term).toBeGreaterThan(leadership.term);
    await won.resign();
  });
});
