// One round of a hot-key run over several processes: this one and `processes - 1` bench child
// processes, each running its share of the workers (hot-loop.mjs) in the same window of the
// system-wide monotonic clock. Process i numbers its workers from i x PROCESS_SPAN, so a
// holder's process is Math.floor(holder / PROCESS_SPAN).
import { ChildLink } from './child-link.mjs';
import { nowUs, prepareHot } from './hot-loop.mjs';

export const PROCESS_SPAN = 1000;

/** How long before the window every process is told when it starts (IPC and a last warm-up). */
const START_DELAY_US = 150_000;

/** Bench children beyond ctx.child(), per run context; ctx.track makes run.mjs stop them. */
const extraChildren = new WeakMap();

async function childrenFor(ctx, count) {
  if (count === 0) return [];
  const links = [await ctx.child()];
  let extras = extraChildren.get(ctx);
  if (extras === undefined) extraChildren.set(ctx, (extras = []));
  for (let i = 0; i < count - 1; i++) {
    if (extras[i] === undefined || extras[i].dead) {
      if (extras[i]) ctx.untrack(extras[i]);
      extras[i] = await ChildLink.start();
      ctx.track(extras[i]);
    }
    links.push(extras[i]);
  }
  return links;
}

/** `workers` split over `processes` as evenly as possible (the first ones get one more). */
export function splitWorkers(workers, processes) {
  return Array.from({ length: processes }, (_, i) => Math.floor(workers / processes) + (i < workers % processes ? 1 : 0));
}

/**
 * Prepares `spec` in every process (`params`: prepareHot's key, ttl, holdMs), runs one window of
 * `windowMs` (workers still inside acquire() `drainMs` after it are abandoned), closes. `alongside(run)`
 * starts once the window is fixed (`run.startAtUs`), e.g. to read server counters at its start and
 * end; its value comes back as `side`. Returns `{ parts, side }`, parts in process order.
 */
export async function hotRound(ctx, spec, { workers, processes, params, windowMs, drainMs, alongside }) {
  const shares = splitWorkers(workers, processes);
  const children = await childrenFor(ctx, processes - 1);
  let local;
  try {
    const prepared = await Promise.allSettled([
      prepareHot(spec, ctx.env, { ...params, workers: shares[0], firstWorker: 0 }),
      ...children.map((child, i) =>
        child.request('prepare', { spec, env: ctx.env, params: { ...params, workers: shares[i + 1], firstWorker: (i + 1) * PROCESS_SPAN } }, 40_000),
      ),
    ]);
    local = prepared[0].value; // closed below even when another process failed to prepare
    const failed = prepared.find((p) => p.status === 'rejected');
    if (failed) throw failed.reason;
    const run = { startAtUs: nowUs() + START_DELAY_US, windowMs, drainMs, maxCount: 10_000_000 };
    const side = alongside?.(run);
    side?.catch?.(() => undefined); // awaited after the window; not an unhandled rejection meanwhile
    const parts = await Promise.all([
      local.run(run),
      ...children.map((child) => child.request('run', { params: run }, windowMs + drainMs + 30_000)),
    ]);
    return { parts, side: await side };
  } finally {
    await Promise.all([local?.close(), ...children.map((child) => child.request('close', {}, 20_000).catch(() => undefined))]);
  }
}
