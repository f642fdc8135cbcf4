// Workload 5: many locks held and auto-renewed by one process. Each round runs in a fresh child
// process so that RSS and event-loop delay belong to that library alone.
import { ChildLink } from '../child-link.mjs';
import { runGrid } from './grid.mjs';

export function watchdog(ctx, { rows }) {
  const { locks, ttl, ticks } = ctx.profile.watchdog;
  return runGrid(
    ctx,
    {
      id: 'watchdog',
      title: '5. Watchdog',
      groupLabel: 'locks',
      description:
        `${locks.toLocaleString('en-US')} locks held and auto-renewed from one process (TTL ${ttl} ms), observed for ${ticks} of the library's ` +
        'renew intervals (ticks: dlock and raw TTL/3) after renewals settled; renew commands counted ' +
        'by the server (INFO commandstats: EVAL + EVALSHA; a renewal burst cut by the window edge makes this +-1/ticks approximate); round trips = pipelines for batched renewers, one per command otherwise; ' +
        'RSS of a fresh process holding the locks; event-loop delay also measured in that process before it took any lock (idle, up to 2 s)',
      metrics: [
        { key: 'renewIntervalMs', label: 'tick ms', digits: 0 },
        { key: 'renewCommandsPerTick', label: 'renew cmds/tick', digits: 0 },
        { key: 'roundTripsPerTick', label: 'round trips/tick', digits: 1, ratio: 'lower' },
        { key: 'renewalsPerRoundTrip', label: 'renewals/round trip', digits: 0 },
        { key: 'eventLoopP99Ms', label: 'event-loop p99 ms', digits: 1, ratio: 'lower' },
        { key: 'addedEventLoopP99Ms', label: 'p99 over the same process idle, ms', digits: 1 },
        { key: 'eventLoopMaxMs', label: 'event-loop max ms', digits: 1 },
        { key: 'rssMB', label: 'RSS MB', digits: 0, ratio: 'lower' },
        { key: 'lost', label: 'locks lost', digits: 0 },
      ],
    },
    {
      groups: [{ label: locks.toLocaleString('en-US') }],
      rows,
      async measure(spec) {
        const child = await ChildLink.start();
        ctx.track(child);
        try {
          const r = await child.request('watchdog', { spec, env: ctx.env, params: { locks, ttl, ticks } }, 240_000);
          return r;
        } finally {
          await child.stop();
          ctx.untrack(child);
        }
      },
    },
  );
}
