// Workload 9: read-mostly. `workers` loops in 2 processes on one key, each operation a read with
// probability `readShare` (else a write), the lock held for an awaited `holdMs` timer (a critical
// section that is not empty, so readers that run together finish together). A read-write lock
// reads under its read lock; a mutex takes every operation exclusively. Operations per second
// within the window, the reads' and writes' p99 waits (waits still open at the window's end
// counted up to then), the number of times an exclusive holder overlapped another (0 for a
// correct lock; checked from both processes' records on the system-wide monotonic clock), and the
// Lua scripts Redis ran per operation, with their server time.
import { randomUUID } from 'node:crypto';
import { nowUs } from '../hot-loop.mjs';
import { percentile, sleep } from '../measure.mjs';
import { overlapsOf, prepareReadMostly } from '../read-mostly-loop.mjs';
import { scriptCost } from '../stats/redis-info.mjs';
import { runGrid } from './grid.mjs';

export function readMostly(ctx, { id, title, rows, workers, holdMs, readShares }) {
  const { hotMs, drainMs, ttl } = ctx.profile;
  return runGrid(
    ctx,
    {
      id,
      title,
      description:
        `${workers} workers in 2 processes on one key, each operation holding the lock for an awaited ${holdMs} ms timer; ` +
        `${hotMs} ms window per round; ops/s = reads + writes that acquired within the window; overlaps = times an exclusive holder ` +
        'overlapped another holder (must be 0)',
      groupLabel: 'reads',
      ratioLabel: 'x mutex',
      metrics: [
        { key: 'opsPerSecond', label: 'ops/s', digits: 0, ratio: 'higher' },
        { key: 'readsPerSecond', label: 'reads/s', digits: 0 },
        { key: 'writesPerSecond', label: 'writes/s', digits: 0 },
        { key: 'readP99Ms', label: 'p99 read wait ms', digits: 1 },
        { key: 'writeP99Ms', label: 'p99 write wait ms', digits: 1 },
        { key: 'overlaps', label: 'overlaps', digits: 0 },
        { key: 'scriptsPerOp', label: 'Redis scripts/op', digits: 1 },
        { key: 'scriptUsPerOp', label: 'Redis script µs/op', digits: 0 },
      ],
    },
    {
      groups: readShares.map((share) => ({ label: `${Math.round(share * 100)} %`, readShare: share })),
      rows,
      async measure(spec, { readShare }) {
        const key = `rw:${randomUUID()}`;
        const shares = [Math.ceil(workers / 2), Math.floor(workers / 2)];
        const params = (n, firstWorker) => ({ key, ttl, workers: n, firstWorker, readShare, holdMs });
        const child = await ctx.child();
        let local;
        try {
          [local] = await Promise.all([
            prepareReadMostly(spec, ctx.env, params(shares[0], 0)),
            child.request('prepare', { spec, env: ctx.env, params: params(shares[1], 1000), loop: 'read-mostly' }, 40_000),
          ]);
          const run = { startAtUs: nowUs() + 150_000, windowMs: hotMs, drainMs };
          const scripts = scriptCost(ctx.env.redisUrl, run.startAtUs, hotMs, (atUs) => sleep(Math.max(0, (atUs - nowUs()) / 1000)));
          const parts = await Promise.all([local.run(run), child.request('run', { params: run }, hotMs + drainMs + 30_000)]);
          const ops = parts.flatMap((p) => p.ops);
          const waitsOf = (read) => [...ops.filter((o) => o[3] === read).map((o) => o[4]), ...parts.flatMap((p) => p.open[read ? 'read' : 'write'])];
          const reads = ops.filter((o) => o[3] === 1).length;
          const hung = parts.reduce((n, p) => n + p.hung, 0);
          const { calls, usec } = await scripts;
          return {
            opsPerSecond: ops.length / (hotMs / 1000),
            readsPerSecond: reads / (hotMs / 1000),
            writesPerSecond: (ops.length - reads) / (hotMs / 1000),
            readP99Ms: percentile(waitsOf(1), 99),
            writeP99Ms: percentile(waitsOf(0), 99),
            overlaps: overlapsOf(ops.map((o) => [o[0], o[1], o[2]])),
            scriptsPerOp: calls / Math.max(1, ops.length),
            scriptUsPerOp: usec / Math.max(1, ops.length),
            errors: parts.reduce((n, p) => n + p.errorCount, 0),
            notes: [
              ...parts.flatMap((p) => p.errors),
              ...(hung ? [`${hung} workers still inside acquire() ${drainMs} ms after the window: abandoned, their waits counted up to the window's end`] : []),
            ],
          };
        } finally {
          await Promise.all([local?.close(), child.request('close', {}, 20_000).catch(() => undefined)]);
        }
      },
    },
  );
}
