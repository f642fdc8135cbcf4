// The targets of issue 14 (semaphores and read-write locks), checked against one run's medians
// (reported, never asserted).

const fx = (x, d = 2) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '–');
const verdict = (ok) => (ok === undefined ? '' : ok ? 'yes' : '**no**');

function rowsOf(result, sectionId) {
  return result.sections.find((s) => s.id === sectionId && s.groups)?.groups ?? [];
}

const measured = (row) => (row && !row.skipped && row.median ? row : undefined);

export function checkClaimTargets(result) {
  const out = [];
  const add = (target, text, ok) => out.push({ target, measured: text, met: verdict(ok) });

  for (const group of rowsOf(result, 'uncontended-semaphore')) {
    const d = measured(group.rows.find((r) => r.key.startsWith('dlock-redis-semaphore:')));
    const r = d?.ratios?.pairsPerSecond;
    add(`Semaphore uncontended ${group.label}: RedisSemaphore >= 0.9x the raw loop over its scripts`, `${fx(r)}x`, r === undefined ? undefined : r >= 0.9);
  }

  const hot = rowsOf(result, 'hot-semaphore')[0];
  if (hot) {
    const d = measured(hot.rows.find((r) => r.key.startsWith('dlock-redis-semaphore:')));
    const peers = hot.rows.filter((r) => measured(r) && r.key.startsWith('semaphore-semaphore:'));
    for (const peer of peers) {
      const x = d ? d.median.handoffsPerSecond / peer.median.handoffsPerSecond : undefined;
      const p99 = d ? d.median.p99Ms / peer.median.p99Ms : undefined;
      add(
        `Semaphore hot key: RedisSemaphore >= 10x the hand-offs/s of ${peer.label} (${peer.settings}), p99 wait <= 1/10 of its`,
        d ? `${fx(x)}x hand-offs (${fx(d.median.handoffsPerSecond, 0)} vs ${fx(peer.median.handoffsPerSecond, 0)}/s); p99 ${fx(d.median.p99Ms, 1)} vs ${fx(peer.median.p99Ms, 1)} ms (${fx(p99)}x)` : '–',
        d ? x >= 10 && p99 <= 0.1 : undefined,
      );
    }
  }

  // The same goals for PostgreSQL (issue 18): against the raw loop over its admission function, and its mutex.
  for (const group of rowsOf(result, 'uncontended-semaphore-postgres')) {
    const d = measured(group.rows.find((r) => r.key.startsWith('dlock-postgres-semaphore:')));
    const r = d?.ratios?.pairsPerSecond;
    add(`Semaphore uncontended ${group.label}: PostgresSemaphore >= 0.9x the raw loop over its admission function`, `${fx(r)}x`, r === undefined ? undefined : r >= 0.9);
  }

  for (const [section, backend] of [
    ['read-mostly-redis', 'redis'],
    ['read-mostly-postgres', 'postgres'],
  ]) {
    const name = backend === 'redis' ? 'RedisReadWriteLock' : 'PostgresReadWriteLock';
    for (const group of rowsOf(result, section)) {
      const rw = measured(group.rows.find((r) => r.key.startsWith(`dlock-${backend}-rw:`)));
      const r = rw?.ratios?.opsPerSecond;
      const overlaps = group.rows.reduce((n, row) => n + (measured(row)?.median.overlaps ?? 0), 0);
      add(
        `Read-mostly, ${group.label} reads: ${name} >= 3x the mutex's ops/s (16 workers), no exclusive overlap`,
        `${fx(r)}x; ${overlaps} overlaps`,
        group.label === '90 %' && r !== undefined ? r >= 3 && overlaps === 0 : undefined,
      );
    }
  }
  return out;
}
