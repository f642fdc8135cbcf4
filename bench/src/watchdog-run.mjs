// Workload 5 inside a fresh child process: hold `locks` locks with auto-renewal, then watch a
// window of `ticks` renew intervals: renew commands the server ran (INFO commandstats, EVAL + EVALSHA), round trips
// (pipelines for batched renewers; one per command otherwise), event-loop delay, RSS.
import { randomUUID } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { createLocker } from './contenders.mjs';
import { sleep, within } from './measure.mjs';
import { callsBetween, commandCalls } from './stats/redis-info.mjs';

async function pool(count, concurrency, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

/** The event loop's p99 delay (ms) over `ms` of this process doing nothing. */
async function idleP99(ms) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  await sleep(ms);
  delay.disable();
  return delay.percentile(99) / 1e6;
}

export async function runWatchdog(spec, env, { locks, ttl, ticks: windowTicks }) {
  const admin = new Redis(env.redisUrl);
  try {
    // The same process before it holds anything: what the renewals add is measured over this.
    const idleEventLoopP99Ms = await idleP99(Math.min(2_000, ttl));
    const rssBefore = process.memoryUsage().rss;
    const locker = await within(15_000, createLocker(spec, env), `create ${spec.id}`);
    if (typeof locker.hold !== 'function') {
      await locker.close();
      return { skipped: 'no auto-renewal in this library' };
    }
    const prefix = `wd:${randomUUID()}:`;
    const releases = new Array(locks);
    const t0 = performance.now();
    await within(120_000, pool(locks, 64, async (i) => (releases[i] = await locker.hold(`${prefix}${i}`, ttl))), 'acquire');
    const acquireSeconds = (performance.now() - t0) / 1000;
    const interval = locker.renewInterval(ttl);
    // A whole number of the library's own ticks, so that every renewal burst is counted once.
    const windowMs = windowTicks * interval;
    // Let renewals reach their steady rhythm before measuring.
    await sleep(interval);

    const statsBefore = locker.stats?.();
    const callsBefore = await commandCalls(admin);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const w0 = performance.now();
    await sleep(windowMs);
    const elapsed = performance.now() - w0;
    delay.disable();
    const calls = callsBetween(callsBefore, await commandCalls(admin));
    const rss = process.memoryUsage().rss;
    const statsAfter = locker.stats?.();

    const renewCommands = (calls.evalsha ?? 0) + (calls.eval ?? 0);
    const ticks = elapsed / interval;
    const pipelines = statsAfter?.pipelines === undefined ? undefined : statsAfter.pipelines - statsBefore.pipelines;
    const pipelined = pipelines === undefined ? undefined : statsAfter.pipelinedCommands - statsBefore.pipelinedCommands;
    const result = {
      renewIntervalMs: interval,
      windowMs: elapsed,
      renewCommandsPerTick: renewCommands / ticks,
      roundTripsPerTick: (pipelines ?? renewCommands) / ticks,
      // Exact, counted by the client: renewals sent per round trip (1 for one command each).
      renewalsPerRoundTrip: pipelines === undefined ? 1 : pipelined / Math.max(1, pipelines),
      renewCommandsPerSecond: renewCommands / (elapsed / 1000),
      eventLoopP99Ms: delay.percentile(99) / 1e6,
      idleEventLoopP99Ms,
      addedEventLoopP99Ms: delay.percentile(99) / 1e6 - idleEventLoopP99Ms,
      eventLoopMaxMs: delay.max / 1e6,
      rssMB: rss / 2 ** 20,
      rssGrowthMB: (rss - rssBefore) / 2 ** 20,
      acquireSeconds,
      lost: statsAfter?.lost ?? 0,
    };
    await within(120_000, pool(locks, 64, (i) => releases[i]().catch(() => undefined)), 'release');
    await within(10_000, locker.close(), 'close').catch(() => undefined);
    return result;
  } finally {
    await admin.quit().catch(() => undefined);
    admin.disconnect();
  }
}
