// Faults in the holders' own processes: none (plain contention), SIGSTOP, SIGKILL.
import type { Acquisition, Finding } from './types.js';
import { type Scenario, basePlan, failure, firstGrantAfter, info, ms, sleep, ttlFor, waitUntil } from './scenario.js';

const contention: Scenario = {
  id: 'contention',
  title: 'plain contention',
  notFor: () => undefined,
  plan: (backend) => basePlan(backend, { ttl: ttlFor(backend, 2_000), holdMs: [0, 2], writes: 1, cleanShutdown: true }),
  policy: () => ({}),
  async drive({ pool, sizing }) {
    const started = performance.now();
    await pool.runFor(sizing.contentionMs, sizing.maxAcquisitions);
    const seconds = (performance.now() - started) / 1000;
    const count = pool.count;
    return () => [info(`${Math.round(count / seconds)} acquisitions/s over ${sizing.processes} processes x ${sizing.workersPerProcess} workers`)];
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
  async drive({ pool, plan, sizing, resource }) {
    const pauseMs = plan.ttl * 2 + 500;
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
        const takeover = pool.acquisitions.find((a) => a.key === x.key && a.proc !== x.proc && a.grantedAt > pausedAt && a.grantedAt < resumedAt);
        const rejected = resource.log.filter((w) => w.acq === x.id && !w.accepted && w.at > resumedAt).length;
        const problems: string[] = [];
        if (takeover === undefined) problems.push(`nobody was granted ${x.key} during the ${ms(pauseMs)} pause (TTL ${ms(plan.ttl)})`);
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
 * SIGKILL a holder right after it registered. The next grant of its key must not come before
 * the killed holder's `validUntil` (on our clock, within the handshake's error bound), and must
 * come within the TTL (rounded up to the backend's granularity) plus slack.
 */
const holderKilled: Scenario = {
  id: 'holder-killed',
  title: 'holder SIGKILLed: free after the TTL, not before',
  notFor: () => undefined,
  plan: (backend) => basePlan(backend, { keys: 1, holdMs: [50, 100] }),
  policy: () => ({ errorsExpected: true }),
  async drive({ pool, plan, sizing }) {
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
      await pool.runFor(plan.ttl + sizing.settleMs);
    }
    pool.beforeAck = undefined;
    const slack = 2_500;

    return () => {
      if (kills.length < faults) return [failure(`only ${kills.length} of ${faults} holders could be killed`)];
      return kills.map(({ acquisition: x, killedAt }) => {
        const next = firstGrantAfter(pool.acquisitions, killedAt, x.key);
        if (next === undefined) return failure(`${x.key} was never granted again after holder ${x.id} was killed`);
        const after = next.grantedAt - killedAt;
        if (x.validUntilAtLeast !== undefined && next.grantedAt < x.validUntilAtLeast) {
          return failure(`${next.id} was granted ${ms(x.validUntilAtLeast - next.grantedAt)} before killed holder ${x.id}'s validUntil`);
        }
        if (after > plan.ttl + slack) return failure(`after killing ${x.id} the lock was free only ${ms(after)} later (TTL ${ms(plan.ttl)})`);
        const lease = x.validUntilAtLeast === undefined ? '' : `, its validity ended ${ms(x.validUntilAtLeast - killedAt)} after the kill`;
        return info(`killed holder ${x.id}: next grant ${ms(after)} after the kill (TTL ${ms(plan.ttl)}${lease})`);
      });
    };
  },
};

export { contention, holderPaused, holderKilled };
