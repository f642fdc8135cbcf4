// Faults in the holders' own processes: none (plain contention, where leaders may lapse),
// SIGSTOP, SIGKILL.
import type { GuardedResource } from './resource.js';
import type { Acquisition, Finding } from './types.js';
import { type Scenario, type ScenarioPlan, basePlan, failure, info, ms, sleep, takeoverOf, ttlFor, waitUntil } from './scenario.js';
import type { WorkerPool } from './pool.js';

/** How long after a lapsed holder's grant it holds on (worker.mjs), for waiting on it. */
const lapseHoldMs = (plan: ScenarioPlan): number => plan.ttl * 2 + 500;

/**
 * A holder that stopped renewing (`lapsed`): someone must take its share of the key after its
 * lease ran out, not before its validUntil, its signal must report the loss and its release must
 * not succeed (it would delete the new holder's claim).
 */
function lapseFindings(pool: WorkerPool, resource: GuardedResource, plan: ScenarioPlan): Finding[] {
  const lapsed = pool.acquisitions.filter((a) => a.faults.includes('lapsed'));
  const findings = lapsed.map((x) => {
    const takeover = takeoverOf(pool.acquisitions, x, x.grantedAt);
    const problems: string[] = [];
    if (takeover === undefined) problems.push(`nobody took over ${x.key} (TTL ${ms(plan.ttl)}, held ${ms(lapseHoldMs(plan))})`);
    else if (x.validUntilAtLeast !== undefined && takeover.grantedAt < x.validUntilAtLeast) {
      problems.push(`${takeover.id} took over ${ms(x.validUntilAtLeast - takeover.grantedAt)} before its validUntil`);
    }
    if (!x.lossReported) problems.push('its handle.signal did not report the loss');
    if (x.outcome === 'released') problems.push('its release succeeded: it deleted the claim of whoever held then');
    if (problems.length > 0) return failure(`lapsed holder ${x.id} (stopped renewing): ${problems.join('; ')}`);
    const rejected = resource.log.filter((w) => w.acq === x.id && !w.accepted).length;
    return info(
      `lapsed holder ${x.id} stopped renewing: taken over by ${takeover?.id} ${ms((takeover?.grantedAt ?? 0) - x.grantedAt)} after its grant (TTL ${ms(plan.ttl)}), ` +
        `${rejected} stale write(s) rejected, loss reported, release: ${x.outcome === 'not-held' ? 'LockNotHeldError' : x.outcome}`,
    );
  });
  if (lapsed.length < (plan.lapses ?? 0)) findings.push(failure(`only ${lapsed.length} of ${plan.lapses} holders lapsed`));
  return findings;
}

/**
 * Every worker acquires, writes and releases as fast as it can. For an election, a few leaders
 * stop renewing (`plan.lapses`) and hold on past their lease: the run lasts until they are done.
 */
const contention: Scenario = {
  id: 'contention',
  title: 'plain contention',
  notFor: () => undefined,
  plan: (backend, sizing) =>
    basePlan(backend, {
      ttl: ttlFor(backend, 2_000),
      holdMs: [0, 2],
      writes: 1,
      cleanShutdown: true,
      ...(backend.primitive === 'election' ? { lapses: sizing.faults } : {}),
    }),
  policy: () => ({}),
  async drive({ pool, plan, resource, sizing }) {
    const started = performance.now();
    await pool.runFor(sizing.contentionMs, sizing.maxAcquisitions);
    const seconds = (performance.now() - started) / 1000;
    const count = pool.count;
    const lapses = plan.lapses ?? 0;
    if (lapses > 0) {
      const lapsed = (): Acquisition[] => pool.acquisitions.filter((a) => a.faults.includes('lapsed'));
      await waitUntil(() => lapsed().length >= lapses && lapsed().every((a) => a.outcome !== 'unfinished'), lapseHoldMs(plan) + 15_000);
    }
    return () => [
      info(`${Math.round(count / seconds)} acquisitions/s over ${sizing.processes} processes x ${sizing.workersPerProcess} workers`),
      ...(lapses > 0 ? lapseFindings(pool, resource, plan) : []),
    ];
  },
};

/**
 * SIGSTOP a holder in the middle of its critical section (after its first write) for twice the
 * TTL, then SIGCONT it. Someone else must get the lock meanwhile; the paused holder's next
 * write must be rejected by fencing, its signal must report the loss, and its release must end
 * in LockNotHeldError, leaving the new holder's lock alone (an early loss would show otherwise).
 */
const holderPaused: Scenario = {
  id: 'holder-paused',
  title: 'holder paused past its TTL (SIGSTOP/SIGCONT)',
  notFor: () => undefined,
  plan: (backend) => basePlan(backend, { keys: 1, holdMs: [20, 60], writes: 3 }),
  // A frozen or killed process: its own and its neighbours' calls may time out meanwhile.
  policy: () => ({ errorsExpected: true }),
  async drive({ backend, pool, plan, sizing, resource }) {
    // Past the TTL, and past the places the paused process's waiters keep in a server-side wait
    // list: until those expire, FIFO lets nobody behind them take over.
    // A line on the server moves on once the paused process's waiters lose their places, and the
    // next waiter asks again (within a second): the pause outlasts both with room to spare.
    const pauseMs = Math.max(plan.ttl * 2 + 500, plan.ttl + (backend.waitPlaceMs ?? 0) + 2_500);
    const events: Array<{ acquisition: Acquisition; pausedAt: number; resumedAt: number }> = [];
    let armed = false;
    pool.beforeAck = async (step) => {
      if (!armed || step.kind !== 'write' || step.index !== 1) return;
      armed = false;
      const pausedAt = pool.now();
      pool.pause(step.proc);
      await sleep(pauseMs);
      pool.resume(step.proc);
      events.push({ acquisition: step.acquisition, pausedAt, resumedAt: pool.now() });
    };
    const findings: Finding[] = [];
    await pool.runFor(sizing.settleMs);
    for (let i = 0; i < sizing.faults; i++) {
      armed = true;
      if (!(await waitUntil(() => events.length > i, pauseMs + 10_000))) {
        findings.push(failure(`no holder reached its second write within 10 s to be paused`));
        break;
      }
      await pool.runFor(sizing.settleMs);
    }
    pool.beforeAck = undefined;

    return () => {
      for (const { acquisition: x, pausedAt, resumedAt } of events) {
        const takeover = takeoverOf(pool.acquisitions, x, pausedAt, { before: resumedAt, otherProc: true });
        const rejected = resource.log.filter((w) => w.acq === x.id && !w.accepted && w.at > resumedAt).length;
        const problems: string[] = [];
        if (takeover === undefined) problems.push(`nobody took over ${x.key} during the ${ms(pauseMs)} pause (TTL ${ms(plan.ttl)})`);
        else if (rejected === 0) problems.push('its writes after SIGCONT were not rejected');
        if (!x.lossReported) problems.push('its handle.signal did not report the loss');
        // What matters is that its release did not succeed (it would have deleted the new
        // holder's lock); on a loaded machine it may also fail on a timeout instead.
        if (x.outcome === 'released') problems.push('its release succeeded: it deleted the lock of whoever held it then');
        if (problems.length > 0) findings.push(failure(`paused holder ${x.id}: ${problems.join('; ')}`));
        else {
          findings.push(
            info(
              `paused ${x.id} for ${ms(pauseMs)}: taken over after ${ms((takeover?.grantedAt ?? 0) - pausedAt)}, ` +
                `${rejected} stale write(s) rejected, loss reported, release: ${x.outcome === 'not-held' ? 'LockNotHeldError' : x.outcome}`,
            ),
          );
        }
      }
      return findings;
    };
  },
};

/**
 * SIGKILL a holder right after it registered. The next grant of its key that needs the killed
 * holder's share (any grant for a mutex; a writer after a reader; permits past the limit) must
 * not come before the killed holder's `validUntil` (on our clock, within the handshake's error
 * bound), and must come within the TTL (rounded up to the backend's granularity) plus slack.
 */
const holderKilled: Scenario = {
  id: 'holder-killed',
  title: 'holder SIGKILLed: free after the TTL, not before',
  notFor: () => undefined,
  plan: (backend) => basePlan(backend, { keys: 1, holdMs: [50, 100] }),
  policy: () => ({ errorsExpected: true }),
  async drive({ backend, pool, plan, sizing }) {
    const kills: Array<{ acquisition: Acquisition; killedAt: number }> = [];
    let armed = false;
    // Keep at least two processes contending.
    const faults = Math.min(sizing.faults, sizing.processes - 2);
    pool.beforeAck = async (step) => {
      if (!armed || step.kind !== 'acq') return;
      armed = false;
      await pool.kill(step.proc);
      kills.push({ acquisition: step.acquisition, killedAt: pool.now() });
    };
    await pool.runFor(sizing.settleMs);
    for (let i = 0; i < faults; i++) {
      armed = true;
      await waitUntil(() => kills.length > i, 10_000);
      await pool.runFor(plan.ttl + (backend.waitPlaceMs ?? 0) + sizing.settleMs);
    }
    pool.beforeAck = undefined;
    // The killed process's waiters keep their places in a server-side line that long (fair Redis).
    const slack = 2_500 + (backend.waitPlaceMs ?? 0) + 1_000;

    return () => {
      if (kills.length < faults) return [failure(`only ${kills.length} of ${faults} holders could be killed`)];
      return kills.map(({ acquisition: x, killedAt }) => {
        const next = takeoverOf(pool.acquisitions, x, killedAt);
        if (next === undefined) return failure(`nobody took over ${x.key} after holder ${x.id} was killed`);
        const after = next.grantedAt - killedAt;
        if (x.validUntilAtLeast !== undefined && next.grantedAt < x.validUntilAtLeast) {
          return failure(`${next.id} was granted ${ms(x.validUntilAtLeast - next.grantedAt)} before killed holder ${x.id}'s validUntil`);
        }
        if (after > plan.ttl + slack) return failure(`after killing ${x.id} the lock was free only ${ms(after)} later (TTL ${ms(plan.ttl)})`);
        const lease = x.validUntilAtLeast === undefined ? '' : `, its validity ended ${ms(x.validUntilAtLeast - killedAt)} after the kill`;
        return info(`killed holder ${x.id}: taken over ${ms(after)} after the kill (TTL ${ms(plan.ttl)}${lease})`);
      });
    };
  },
};

export { contention, holderPaused, holderKilled };
