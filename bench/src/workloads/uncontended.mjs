// Workloads 1, 4a and 7a: lock+unlock pairs per second on distinct keys (nobody ever waits), at
// concurrency 1 and 64, in one process. All rows of a round are open at once and measured in
// short slices taken in turns (row A 100 ms, row B 100 ms, ..., again), so that the machine's
// background load falls on every row alike; a row's figure is its pairs over its own time.
import { randomUUID } from 'node:crypto';
import { createLocker } from '../contenders.mjs';
import { errorText, throughput, within } from '../measure.mjs';
import { runGrid } from './grid.mjs';

const SLICE_MS = 100;

export function uncontended(ctx, { id, title, rows, concurrencies = [1, 64] }) {
  const { uncontendedMs, ttl } = ctx.profile;
  const slices = Math.max(1, Math.round(uncontendedMs / SLICE_MS));
  return runGrid(
    ctx,
    {
      id,
      title,
      description:
        `lock+unlock pairs per second on distinct keys (each key used once); per round ${slices} slices of ${SLICE_MS} ms per row, ` +
        'taken in turns with the other rows, after a warm-up',
      groupLabel: 'concurrency',
      metrics: [{ key: 'pairsPerSecond', label: 'pairs/s', digits: 0, ratio: 'higher' }],
    },
    {
      groups: concurrencies.map((c) => ({ label: `c=${c}`, concurrency: c })),
      rows,
      async measureRound(specs, { concurrency }) {
        const prefix = `u:${randomUUID()}:`;
        const entries = await Promise.all(
          specs.map(async (spec, r) => {
            try {
              const locker = await within(15_000, createLocker(spec, ctx.env), `create ${spec.id}`);
              const op = async (i) => {
                const release = await locker.acquire(`${prefix}${r}:${i}`, ttl);
                await release();
              };
              return { locker, op, ops: 0, seconds: 0 };
            } catch (error) {
              return { error: errorText(error) };
            }
          }),
        );
        try {
          for (const e of entries) {
            if (e.error) continue;
            try {
              await within(30_000, throughput((i) => e.op(`w${i}`), { concurrency, count: concurrency * 5, maxMs: 2_000 }), 'warm-up');
            } catch (error) {
              e.error = errorText(error);
            }
          }
          let next = 0;
          for (let s = 0; s < slices; s++) {
            // Rotate who goes first, so no row always follows the same one.
            for (let k = 0; k < entries.length; k++) {
              const e = entries[(s + k) % entries.length];
              if (e.error) continue;
              try {
                const base = next;
                const r = await within(SLICE_MS + 30_000, throughput((i) => e.op(base + i), { concurrency, count: 5_000_000, maxMs: SLICE_MS }), 'run');
                next += r.ops;
                e.ops += r.ops;
                e.seconds += r.seconds;
              } catch (error) {
                e.error = errorText(error);
              }
            }
          }
          return entries.map((e) => (e.error ? { error: e.error } : { pairsPerSecond: e.ops / e.seconds }));
        } finally {
          await Promise.all(entries.map((e) => (e.locker ? within(10_000, e.locker.close(), 'close').catch(() => undefined) : undefined)));
        }
      },
    },
  );
}
