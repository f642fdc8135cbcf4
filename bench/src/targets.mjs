// The targets of issue 8, checked against one run's medians (reported, never asserted).

function section(result, id) {
  return result.sections.find((s) => s.id === id && s.groups);
}

function cell(result, sectionId, groupLabel, key) {
  const g = section(result, sectionId)?.groups.find((x) => groupLabel === undefined || x.label === groupLabel);
  const row = g?.rows.find((r) => r.key === key);
  return row && !row.skipped && row.median ? row : undefined;
}

const fx = (x, d = 2) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '–');
const verdict = (ok) => (ok === undefined ? '' : ok ? 'yes' : '**no**');

export function checkTargets(result) {
  const out = [];
  const add = (target, measured, ok) => out.push({ target, measured, met: verdict(ok) });

  for (const c of ['c=1', 'c=64']) {
    const d = cell(result, 'uncontended-redis', c, 'dlock-redis:1:default');
    const s = cell(result, 'uncontended-redis', c, 'semaphore-mutex:1:default');
    const r = d?.ratios?.pairsPerSecond;
    add(
      `Redis uncontended ${c}: dlock >= 0.95x raw and >= redis-semaphore`,
      d ? `${fx(r)}x raw; ${fx(s ? d.median.pairsPerSecond / s.median.pairsPerSecond : undefined)}x redis-semaphore` : '–',
      d && r !== undefined ? r >= 0.95 && (!s || d.median.pairsPerSecond >= s.median.pairsPerSecond) : undefined,
    );
  }

  for (const c of ['c=1', 'c=64']) {
    const d = cell(result, 'uncontended-redis', c, 'dlock-redis:1:default');
    const lua = cell(result, 'uncontended-redis', c, 'raw-redis-dlock-lua:1:default');
    if (d && lua) {
      add(
        `(diagnostic) Redis uncontended ${c}: dlock vs a raw loop over dlock's own Lua scripts (library overhead alone)`,
        `${fx(d.median.pairsPerSecond / lua.median.pairsPerSecond)}x; that raw loop itself: ${fx(lua.ratios?.pairsPerSecond)}x SET NX PX`,
        undefined,
      );
    }
  }

  const hot = cell(result, 'hot-redis', undefined, 'dlock-redis:1:default');
  add(
    'Redis hot key: dlock hand-offs >= 0.8x the pub/sub prototype, p99 within 2x',
    hot ? `${fx(hot.ratios?.handoffsPerSecond)}x hand-offs, ${fx(hot.ratios?.p99Ms)}x p99` : '–',
    hot && hot.ratios?.handoffsPerSecond !== undefined ? hot.ratios.handoffsPerSecond >= 0.8 && hot.ratios.p99Ms <= 2 : undefined,
  );
  const hotPeers = section(result, 'hot-redis')?.groups[0]?.rows.filter((r) => !r.skipped && r.median && /^(redlock|sesame|semaphore)/.test(r.key));
  for (const [key, what] of [
    ['dlock-redis:1:default', 'dlock'],
    ['dlock-redis:1:handover', 'dlock with coalesce { handOver }'],
  ]) {
    const row = cell(result, 'hot-redis', undefined, key);
    if (!row || !hotPeers?.length) continue;
    const defaults = hotPeers.filter((r) => r.key.endsWith(':default'));
    const swept = hotPeers.filter((r) => !r.key.endsWith(':default'));
    const best = (rows) => rows.reduce((b, r) => (r.median.handoffsPerSecond > b.median.handoffsPerSecond ? r : b));
    const bestDefault = best(defaults);
    const bestSwept = swept.length ? best(swept) : undefined;
    const d = row.median.handoffsPerSecond;
    add(
      `Redis hot key: ${what} >= 25x the polling peers at their defaults, >= 5x at their best`,
      `${fx(d / bestDefault.median.handoffsPerSecond, 1)}x the best peer at defaults (${bestDefault.label}); ` +
        (bestSwept
          ? `${fx(d / bestSwept.median.handoffsPerSecond, 1)}x the best peer setting (${bestSwept.label}, ${bestSwept.settings})`
          : 'no retry sweep in this profile'),
      d >= 25 * bestDefault.median.handoffsPerSecond && (!bestSwept || d >= 5 * bestSwept.median.handoffsPerSecond),
    );
  }

  for (const variant of ['default', 'lock']) {
    for (const c of ['c=1', 'c=64']) {
      const d = cell(result, 'uncontended-etcd', c, `dlock-etcd:1:${variant}`);
      const r = d?.ratios?.pairsPerSecond;
      add(`etcd uncontended ${c}: ${variant === 'lock' ? 'EtcdLock' : 'EtcdMutex'} >= 0.9x raw shared-lease protocol`, `${fx(r)}x`, r === undefined ? undefined : r >= 0.9);
    }
  }

  const etcdHot = section(result, 'hot-etcd');
  if (etcdHot) {
    const mutexRows = etcdHot.groups.map((g) => [g.label, g.rows.find((r) => r.key === 'dlock-etcd:1:default')]);
    const measured = mutexRows.filter(([, r]) => r && !r.skipped && r.median);
    if (measured.length) {
      const ratios = measured.map(([l, r]) => `${l}: ${fx(r.ratios?.handoffsPerSecond)}x`);
      add(
        'etcd hot key: EtcdMutex hand-offs >= 0.9x the raw revision queue',
        `waiters ${ratios.join(', ')}`,
        measured.every(([, r]) => (r.ratios?.handoffsPerSecond ?? 0) >= 0.9),
      );
      const p99 = measured.map(([l, r]) => {
        const e = etcdHot.groups.find((g) => g.label === l).rows.find((x) => x.key === 'etcd3-lock:1:default');
        return [l, r.median.p99Ms, e && !e.skipped && e.median ? e.median.p99Ms : undefined];
      });
      add(
        "etcd hot key: EtcdMutex p99 far below the etcd3 lock's (<= 0.5x)",
        `waiters ${p99.map(([l, a, b]) => `${l}: ${fx(a, 1)} vs ${fx(b, 1)} ms`).join(', ')}`,
        p99.some(([, , b]) => b !== undefined) ? p99.every(([, a, b]) => b === undefined || a <= 0.5 * b) : undefined,
      );
      const req = measured.map(([l, r]) => [l, r.median.etcdRequestsPerHandoff]);
      // One waiter never waits (no watch): flatness is judged from 10 waiters on.
      const waiting = req.filter(([l]) => Number(l) > 1).map(([, x]) => x);
      add(
        'etcd hot key: etcd requests per hand-off flat from 1 to 100 waiters (max/min over 10..100 waiters <= 1.5)',
        `waiters ${req.map(([l, x]) => `${l}: ${fx(x, 1)}`).join(', ')}`,
        waiting.length > 1 ? Math.max(...waiting) / Math.min(...waiting) <= 1.5 : undefined,
      );
    }
  }

  const wdSection = section(result, 'watchdog');
  const wd = wdSection?.groups[0]?.rows.find((r) => r.key === 'dlock-redis:1:default' && r.median);
  add(
    `Watchdog: one pipeline per tick for all ${wdSection?.groups[0]?.label ?? ''} locks; event-loop delay p99 < 20 ms`,
    wd
      ? `${fx(wd.median.roundTripsPerTick)} round trips/tick, ${fx(wd.median.renewalsPerRoundTrip, 0)} renewals per round trip, p99 ${fx(wd.median.eventLoopP99Ms, 1)} ms`
      : '–',
    wd ? wd.median.roundTripsPerTick <= 1.5 && wd.median.eventLoopP99Ms < 20 : undefined,
  );
  add(
    'Watchdog (issue 16): the renewals add <= 10 ms to the event-loop p99 of the same process idle',
    wd?.median.addedEventLoopP99Ms === undefined
      ? '–'
      : `+${fx(wd.median.addedEventLoopP99Ms, 1)} ms (idle ${fx(wd.median.idleEventLoopP99Ms, 1)} ms, holding ${fx(wd.median.eventLoopP99Ms, 1)} ms)`,
    wd?.median.addedEventLoopP99Ms === undefined ? undefined : wd.median.addedEventLoopP99Ms <= 10,
  );

  const regRows = section(result, 'registration')?.groups[0]?.rows ?? [];
  for (const [key, how] of [
    ['redisCoalesce', 'coalesce: true'],
    ['redisHandOver', 'coalesce: { handOver: true }'],
  ]) {
    const reg = regRows.find((r) => r.key === key && r.median);
    add(
      `Registration: Redis lock with local coalescing (${how}) within 2x of the in-process keyed mutex`,
      reg ? `${fx(reg.ratios?.registrationsPerSecond)}x the keyed mutex, ${reg.median.duplicates} duplicates` : '–',
      reg && reg.ratios?.registrationsPerSecond !== undefined ? reg.ratios.registrationsPerSecond >= 0.5 && reg.median.duplicates === 0 : undefined,
    );
  }
  return out;
}
