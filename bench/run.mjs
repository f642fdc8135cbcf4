// `pnpm bench`: prints lock throughput figures. Each figure is the median of 3 runs, each run
// bounded in count and time. Server-backed rows are added as the backends land (issue 8).
import { randomUUID } from 'node:crypto';
import { MemoryLock, MemoryLockStore } from '@dlock/core';
import { median, percentile, throughput } from './src/measure.mjs';

const REPEATS = 3;
const rows = [];

async function uncontended(name, makeLock, concurrency) {
  const lock = makeLock();
  const prefix = randomUUID();
  const result = await median(REPEATS, async () => {
    const r = await throughput(
      async (i) => {
        const h = await lock.lock(`${prefix}:${i}`, { ttl: 10_000 });
        await h.release();
      },
      { concurrency, count: 20_000, maxMs: 2_000 },
    );
    return r.perSecond;
  });
  await lock.close();
  rows.push({ workload: `uncontended c=${concurrency}`, backend: name, value: `${Math.round(result.median)} pairs/s` });
}

async function hotKey(name, makeLock, workers) {
  const lock = makeLock();
  const key = `hot:${randomUUID()}`;
  const waits = [];
  const result = await median(REPEATS, async () => {
    const r = await throughput(
      async () => {
        const t = performance.now();
        const h = await lock.lock(key, { ttl: 10_000 });
        waits.push(performance.now() - t);
        await h.release();
      },
      { concurrency: workers, count: 5_000, maxMs: 2_000 },
    );
    return r.perSecond;
  });
  await lock.close();
  rows.push({
    workload: `hot key, ${workers} workers`,
    backend: name,
    value: `${Math.round(result.median)} hand-offs/s, p50 ${percentile(waits, 50).toFixed(2)} ms, p99 ${percentile(waits, 99).toFixed(2)} ms`,
  });
}

const memory = () => new MemoryLock({ store: new MemoryLockStore() });
await uncontended('memory', memory, 1);
await uncontended('memory', memory, 64);
await hotKey('memory', memory, 32);

console.log(`dlock bench (${process.version}, ${new Date().toISOString()}; median of ${REPEATS})\n`);
console.log('| workload | backend | result |\n| --- | --- | --- |');
for (const r of rows) console.log(`| ${r.workload} | ${r.backend} | ${r.value} |`);
