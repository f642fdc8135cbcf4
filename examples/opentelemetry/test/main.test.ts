import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../src/main.mjs', import.meta.url));

interface Point {
  metric: string;
  attributes: Record<string, string>;
  /** A counter's value, or a histogram's count. */
  value: number;
  sum?: number;
}

/** The data points the example prints under "collected metrics:". */
function points(stdout: string): Point[] {
  const section = stdout.slice(stdout.indexOf('collected metrics:'), stdout.indexOf('\ntotals:'));
  const out: Point[] = [];
  let metric = '';
  for (const line of section.split('\n')) {
    const head = /^(dlock\.\S+) \(/.exec(line);
    if (head) {
      metric = head[1]!;
      continue;
    }
    const point = /^ {2}\{(.*)\} (?:count=(\d+) sum=([\d.]+).*|(-?\d+))$/.exec(line);
    if (!point) continue;
    const attributes = Object.fromEntries(point[1]!.split(', ').map((kv) => kv.split('=') as [string, string]));
    out.push(
      point[2] !== undefined
        ? { metric, attributes, value: Number(point[2]), sum: Number(point[3]) }
        : { metric, attributes, value: Number(point[4]) },
    );
  }
  return out;
}

const total = (all: Point[], metric: string, where: Record<string, string> = {}) =>
  all
    .filter((p) => p.metric === metric && Object.entries(where).every(([k, v]) => p.attributes[k] === v))
    .reduce((n, p) => n + p.value, 0);

describe('opentelemetry example (pnpm --filter @dlock/example-opentelemetry start)', () => {
  it('turns every lock event of the scenario into the expected metric counts', async () => {
    const { stdout } = await run(process.execPath, [main], { timeout: 20_000 });
    const all = points(stdout);

    expect(total(all, 'dlock.lock.acquisitions')).toBe(8);
    expect(total(all, 'dlock.lock.acquisitions', { 'dlock.key_group': 'invoice' })).toBe(5);

    expect(total(all, 'dlock.lock.wait.duration')).toBe(10);
    expect(total(all, 'dlock.lock.wait.duration', { 'dlock.outcome': 'acquired' })).toBe(8);
    expect(total(all, 'dlock.lock.wait.duration', { 'dlock.outcome': 'busy' })).toBe(1);
    expect(total(all, 'dlock.lock.wait.duration', { 'dlock.outcome': 'timeout' })).toBe(1);
    const timedOut = all.find((p) => p.metric === 'dlock.lock.wait.duration' && p.attributes['dlock.outcome'] === 'timeout')!;
    expect(timedOut.sum).toBeGreaterThanOrEqual(0.045); // waited its 50 ms waitTimeout (in seconds)

    expect(total(all, 'dlock.lock.hold.duration', { 'dlock.outcome': 'released' })).toBe(7);
    expect(total(all, 'dlock.lock.hold.duration', { 'dlock.outcome': 'lost' })).toBe(1);
    expect(total(all, 'dlock.lock.losses', { 'dlock.key_group': 'nightly' })).toBe(1);
    expect(total(all, 'dlock.lock.losses')).toBe(1);

    expect(total(all, 'dlock.lock.renew_failures', { 'dlock.backend': 'memory-flaky', 'error.type': 'LockBackendError' })).toBe(2);
    expect(total(all, 'dlock.lock.renewals')).toBe(1);

    // Nothing held or waiting once the scenario is over.
    expect(all.filter((p) => p.metric === 'dlock.lock.held').every((p) => p.value === 0)).toBe(true);
    expect(all.filter((p) => p.metric === 'dlock.lock.waiting').every((p) => p.value === 0)).toBe(true);
    // Keys are not attributes (cardinality): only the key group is.
    expect(all.some((p) => Object.values(p.attributes).some((v) => v.includes(':')))).toBe(false);

    expect(stdout).toContain('OK: every event of the scenario is in the metrics.');
  });
});
