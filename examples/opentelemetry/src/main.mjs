// `pnpm --filter @dlock/example-opentelemetry start`
//
// LockService events wired to OpenTelemetry metrics (./lock-metrics.mjs), exercised by a short
// scenario on the in-process memory backend, then collected by an in-memory reader and printed.
// Swap the reader for an OTLP or Prometheus exporter in a real service; the wiring stays.
//
// The scenario, and what it must add up to (the example exits 1 if the metrics disagree):
//   5 callers contend for invoice:42              5 acquisitions, 5 waits, 5 releases
//   report:daily held; tryWithLock finds it busy, 1 acquisition, waits: 1 busy, 1 timeout
//     withLock with waitTimeout 50 ms times out
//   nightly:job held past its 200 ms lease        1 acquisition, 1 loss
//     with renewals off (a stalled holder)
//   sync:devices over a backend whose first two   1 acquisition, 2 renew failures, 1 renewal
//     renewals fail (an outage)
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { LockBackendError, LockService, MemoryLock } from '@dlock/core';
import { instrumentLockService } from './lock-metrics.mjs';

/** A pull reader that just hands over what it collects: enough to print or test metrics. */
class InMemoryMetricReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

const reader = new InMemoryMetricReader();
const provider = new MeterProvider({ readers: [reader] });
metrics.setGlobalMeterProvider(provider);

const keyGroup = (key) => key.split(':')[0];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- the services -------------------------------------------------------------------------------
const locks = new LockService(new MemoryLock(), { ttl: 5_000 });
instrumentLockService(locks, { keyGroup });

// A backend that fails its first two renewals, as during a short outage: any DistributedLock
// can be wrapped, and LockService renews it on its own timer.
const flaky = new LockService(flakyRenewals(new MemoryLock(), 2), { ttl: 1_500 });
instrumentLockService(flaky, { keyGroup });

// --- the scenario -------------------------------------------------------------------------------
await Promise.all(Array.from({ length: 5 }, () => locks.withLock('invoice:42', () => sleep(20))));

await locks.withLock('report:daily', async () => {
  const busy = await locks.tryWithLock('report:daily', () => 'never runs');
  console.log(`report:daily: tryWithLock while held -> acquired: ${busy.acquired}`);
  await locks.withLock('report:daily', () => 'never runs', { waitTimeout: 50 }).catch((error) => {
    console.log(`report:daily: withLock({ waitTimeout: 50 }) while held -> ${error.name}`);
  });
});

await locks
  .withLock('nightly:job', () => sleep(400), { ttl: 200, autoRenew: false })
  .catch((error) => console.log(`nightly:job: held 400 ms on a 200 ms lease -> ${error.name}`));

await flaky.withLock('sync:devices', async () => {
  // Hold until a renewal gets through after the two failures. (The guard timer also keeps the
  // process alive: dlock's renewal timers are unref()'d, so they alone would let it exit.)
  await new Promise((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error('no renewal within 10 s')), 10_000);
    const stop = flaky.events.on('renewed', () => {
      stop();
      clearTimeout(guard);
      resolve();
    });
  });
});
console.log('sync:devices: held through 2 failed renewals, then renewed');

await Promise.all([locks.close(), flaky.close()]);

// --- collect and print ----------------------------------------------------------------------------
const { resourceMetrics, errors } = await reader.collect();
if (errors.length > 0) throw new AggregateError(errors, 'metric collection failed');
const collected = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);

console.log('\ncollected metrics:');
const totals = {};
for (const metric of collected) {
  const { name, unit, type } = metric.descriptor;
  console.log(`${name} (${type.toLowerCase()}, ${unit})`);
  for (const point of metric.dataPoints) {
    const labels = Object.entries(point.attributes)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    if (typeof point.value === 'number') {
      console.log(`  {${labels}} ${point.value}`);
      totals[name] = (totals[name] ?? 0) + point.value;
    } else {
      const h = point.value;
      console.log(`  {${labels}} count=${h.count} sum=${h.sum.toFixed(3)} min=${h.min?.toFixed(3)} max=${h.max?.toFixed(3)}`);
      totals[name] = (totals[name] ?? 0) + h.count;
      const outcome = point.attributes['dlock.outcome'];
      totals[`${name}{${outcome}}`] = (totals[`${name}{${outcome}}`] ?? 0) + h.count;
    }
  }
}
await provider.shutdown();

// --- check them against the scenario ------------------------------------------------------------
const expected = {
  'dlock.lock.acquisitions': 8,
  'dlock.lock.wait.duration': 10,
  'dlock.lock.wait.duration{acquired}': 8,
  'dlock.lock.wait.duration{busy}': 1,
  'dlock.lock.wait.duration{timeout}': 1,
  'dlock.lock.hold.duration{released}': 7,
  'dlock.lock.hold.duration{lost}': 1,
  'dlock.lock.losses': 1,
  'dlock.lock.renew_failures': 2,
  'dlock.lock.renewals': 1,
  'dlock.lock.held': 0,
  'dlock.lock.waiting': 0,
};
const wrong = Object.entries(expected).filter(([name, count]) => (totals[name] ?? 0) !== count);
console.log('\ntotals:');
for (const [name, count] of Object.entries(expected)) {
  console.log(`  ${name.padEnd(38)} ${String(totals[name] ?? 0).padStart(3)}   expected ${count}`);
}
if (wrong.length > 0) {
  console.error(`\nFAIL: ${wrong.map(([name]) => name).join(', ')} do not match the scenario`);
  process.exit(1);
}
console.log('\nOK: every event of the scenario is in the metrics.');

/** Wraps a lock so that its first `failures` renewals fail with a backend error. */
function flakyRenewals(lock, failures) {
  let left = failures;
  return {
    backend: `${lock.backend}-flaky`,
    capabilities: lock.capabilities,
    tryLock: (key, options) => lock.tryLock(key, options),
    lock: (key, options) => lock.lock(key, options),
    unlock: (handle) => lock.unlock(handle),
    async renew(handle, ttl) {
      if (left-- > 0) throw new LockBackendError(this.backend, 'renew', {
          key: handle.key,
          cause: new Error('ECONNRESET (simulated outage)'),
        });
      return lock.renew(handle, ttl);
    },
    isLocked: (key) => lock.isLocked(key),
    inspect: (key) => lock.inspect(key),
    close: () => lock.close(),
  };
}

