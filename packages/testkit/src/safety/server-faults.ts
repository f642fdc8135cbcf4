// Faults in the servers: paused, killed and restarted empty or with its data, a Redlock
// minority, an etcd leader.
import type { Acquisition, Finding } from './types.js';
import { type Scenario, basePlan, failure, firstGrantAfter, info, ms, resumed, sleep, takeoverOf, ttlFor, waitUntil } from './scenario.js';

/**
 * SIGSTOP the server (Redis, or the single etcd member) for 1.5 TTL, then SIGCONT it, at two
 * moments: while a holder is working in its critical section (it lasts about 2 TTL), and while
 * a holder's release is in flight. Either way the holder's validity must end during the pause
 * (nothing can be renewed), its signal must report the loss, whoever gets the lock after the
 * resume must not overlap it, and fencing rejects the first holder's late writes.
 */
const serverPaused: Scenario = {
  id: 'server-paused',
  title: 'server paused past the TTL',
  notFor: (backend) => (backend.id === 'redlock' ? 'Redlock nodes are paused in redlock-minority' : undefined),
  plan: (backend) => {
    const ttl = ttlFor(backend, 1_000);
    return basePlan(backend, { keys: 1, ttl, holdMs: [ttl * 2, ttl * 2.2], writes: 8 });
  },
  policy: () => ({ errorsExpected: true }),
  async drive({ pool, deployment, plan, resource, sizing }) {
    const server = deployment.servers[0];
    if (server === undefined) throw new Error('server-paused: no server');
    const pauseMs = Math.round(plan.ttl * 1.5);
    const pauses: Array<{ holder: Acquisition; during: string; resumedAt: number }> = [];
    let armed: 'write' | 'rel' | undefined;
    let pausing: Promise<void> | undefined;
    // Pause right after the chosen step. A write's ack is not held up (the holder works on for
    // about 2 TTL); a release intent's ack waits until the pause took effect, so that the release
    // surely meets a paused server (stopping a server of several processes takes a moment).
    pool.beforeAck = (step) => {
      if (armed === undefined || step.kind !== armed || (step.kind === 'write' && step.index !== 0)) return;
      const during = armed === 'write' ? 'in its critical section' : 'releasing';
      armed = undefined;
      const paused = server.pause();
      pausing = (async () => {
        await paused;
        await sleep(pauseMs);
        await server.resume();
        pauses.push({ holder: step.acquisition, during, resumedAt: pool.now() });
      })();
      return step.kind === 'rel' ? paused : undefined;
    };
    const findings: Finding[] = [];
    for (let i = 0; i < sizing.faults * 2; i++) {
      armed = i % 2 === 0 ? 'write' : 'rel';
      if (!(await waitUntil(() => pausing !== undefined, plan.holdMs[1] + 15_000))) break;
      await pausing;
      pausing = undefined;
      // Until the holder is done, and a little longer.
      const holder = pauses.at(-1)?.holder;
      await waitUntil(() => holder === undefined || holder.outcome !== 'unfinished', plan.holdMs[1] + 10_000);
      await pool.runFor(sizing.settleMs / 2);
    }
    pool.beforeAck = undefined;
    if (pauses.length < sizing.faults * 2) findings.push(failure(`only ${pauses.length} of ${sizing.faults * 2} pauses happened`));
    return () => {
      for (const { holder: x, during, resumedAt } of pauses) {
        findings.push(resumed(pool, resumedAt, plan.ttl + 5_000, `the server was resumed (paused ${ms(pauseMs)})`));
        if (!x.lossReported) {
          findings.push(failure(`${x.id} held through a ${ms(pauseMs)} server pause (TTL ${ms(plan.ttl)}) ${during}, but its signal reported no loss`));
        }
        const rejected = resource.log.filter((w) => w.acq === x.id && !w.accepted).length;
        findings.push(
          info(`${x.id} held while the server was paused ${during}: loss ${x.lossReported ? 'reported' : 'NOT reported'}, ${rejected} of its writes rejected, release: ${x.outcome}`),
        );
      }
      return findings;
    };
  },
};

/**
 * SIGKILL the single Redis and restart it empty while a holder is mid-section. Redis forgets
 * the lock and its fencing counter: a waiter is granted the lock while the first holder still
 * holds (its next renewal is up to TTL/3 away), with a lower fencing token. Documented as
 * unsafe; the resource must still reject every write that would interleave.
 */
const restartEmpty: Scenario = {
  id: 'restart-empty',
  title: 'Redis killed and restarted empty while held',
  notFor: (backend) => (backend.pkg === 'redis' ? undefined : 'only a single Redis loses its data on restart'),
  // Long holds and a long TTL (renewals 3.3 s apart) keep the first holder unaware for a while;
  // waiters retry every 100 ms so one is granted soon after the restart.
  plan: (backend) =>
    basePlan(backend, { keys: 1, ttl: 10_000, holdMs: [1_000, 1_200], writes: 4, lockOptions: { maxRetryDelay: 100 } }),
  policy: () => ({
    documentedUnsafe:
      'a single Redis restarted without persistence forgets held locks and its fencing counter: a second holder is granted while the first holds, with a lower token, which the fenced resource rejects',
    errorsExpected: true,
    earlyLossExpected: true,
  }),
  async drive({ pool, deployment, resource, sizing }) {
    const server = deployment.servers[0];
    if (server === undefined) throw new Error('restart-empty: no server');
    const restarts: Array<{ holder: Acquisition; at: number }> = [];
    let armed = false;
    let restarting: Promise<void> | undefined;
    // Restart right after a holder's first write, without holding up its ack.
    pool.beforeAck = (step) => {
      if (!armed || step.kind !== 'write' || step.index !== 0) return;
      armed = false;
      restarting = (async () => {
        await server.kill();
        await server.restart({ empty: true });
        restarts.push({ holder: step.acquisition, at: pool.now() });
      })();
    };
    // A few grants first, so that the counter the restart resets is well above 1.
    await waitUntil(() => pool.count >= 2, 15_000);
    const findings: Finding[] = [];
    for (let i = 0; i < sizing.faults; i++) {
      armed = true;
      if (!(await waitUntil(() => restarting !== undefined, 10_000))) break;
      await restarting;
      restarting = undefined;
      await pool.runFor(2_000);
    }
    pool.beforeAck = undefined;
    if (restarts.length < sizing.faults) findings.push(failure(`only ${restarts.length} of ${sizing.faults} restarts happened`));
    return () => {
      for (const { holder, at } of restarts) {
        const next = firstGrantAfter(pool.acquisitions, at, holder.key);
        const rejected = resource.log.filter((w) => w.at > at && !w.accepted);
        const ofHolder = rejected.filter((w) => w.acq === holder.id).length;
        const overlapped = next !== undefined && holder.validThrough !== undefined && holder.validThrough > next.grantedAt;
        findings.push(
          info(
            `restarted empty while ${holder.id} (fence ${holder.fence}) held: ` +
              (next === undefined
                ? 'nobody else was granted the lock afterwards'
                : `${next.id} was granted ${ms(next.grantedAt - at)} later with ${next.fence > holder.fence ? 'a higher' : 'a LOWER'} fence ${next.fence}` +
                  `${overlapped ? ' while the first holder was still valid' : ''}`) +
              `; then ${rejected.length} stale writes were rejected (${ofHolder} of the first holder)`,
          ),
        );
      }
      return findings;
    };
  },
};

/**
 * SIGKILL every process of a server that keeps its data (PostgreSQL: leases are committed rows)
 * while a holder is mid-section (about 1.5 TTL long, so it must renew after the restart), and
 * start it again on the same port (crash recovery) after a short outage (0.25 TTL: the holder can
 * renew after it) and, the next time, a long one (1.2 TTL: its lease ends meanwhile). What was committed before the crash comes back,
 * so: nobody else is granted the lock while the holder's lease lasts, fencing tokens keep
 * increasing (the sequence resumes above every token it handed out), the holder either renews
 * after the restart or its signal reports the loss, and locking resumes.
 */
const serverRestarted: Scenario = {
  id: 'server-restarted',
  title: 'server killed and restarted with its data while held',
  notFor: (backend) =>
    backend.pkg === 'postgres'
      ? undefined
      : 'for servers that keep their data across a crash: Redis restarts empty (restart-empty), etcd is restarted in etcd-leader-kill',
  plan: (backend) => {
    const ttl = ttlFor(backend, 2_000);
    return basePlan(backend, { keys: 1, ttl, holdMs: [ttl * 1.4, ttl * 1.6], writes: 6 });
  },
  policy: () => ({ errorsExpected: true }),
  async drive({ pool, deployment, plan, resource, sizing }) {
    const server = deployment.servers[0];
    if (server === undefined) throw new Error('server-restarted: no server');
    const restarts: Array<{ holder: Acquisition; outageMs: number; killedAt: number; restartedAt: number }> = [];
    let armed: number | undefined;
    let restarting: Promise<void> | undefined;
    // Kill right after a holder's first write, without holding up its ack.
    pool.beforeAck = (step) => {
      if (armed === undefined || step.kind !== 'write' || step.index !== 0) return;
      const outageMs = armed;
      armed = undefined;
      restarting = (async () => {
        const killedAt = pool.now();
        await server.kill();
        await sleep(outageMs);
        await server.restart();
        restarts.push({ holder: step.acquisition, outageMs, killedAt, restartedAt: pool.now() });
      })();
    };
    await pool.runFor(sizing.settleMs / 2);
    const findings: Finding[] = [];
    for (let i = 0; i < sizing.faults * 2; i++) {
      armed = Math.round(plan.ttl * (i % 2 === 0 ? 0.25 : 1.2));
      if (!(await waitUntil(() => restarting !== undefined, plan.holdMs[1] + 15_000))) break;
      await restarting;
      restarting = undefined;
      const holder = restarts.at(-1)?.holder;
      await waitUntil(() => holder === undefined || holder.outcome !== 'unfinished', plan.holdMs[1] + plan.ttl + 10_000);
      await pool.runFor(sizing.settleMs / 2);
    }
    pool.beforeAck = undefined;
    // The verdict gives every restart holdMs[1] + 5 s to see the next grant: keep the workers
    // going that long after the last one (a waiter that gave up while the server was down keeps
    // its place in a fair line until the place ends, so the next grant may wait for that).
    const last = restarts.at(-1);
    if (last !== undefined) {
      const until = last.restartedAt + plan.holdMs[1] + 5_000;
      const resumed = () => firstGrantAfter(pool.acquisitions, last.killedAt, last.holder.key) !== undefined;
      if (!resumed() && pool.now() < until) await pool.runFor(until - pool.now(), Infinity, resumed);
    }
    if (restarts.length < sizing.faults * 2) findings.push(failure(`only ${restarts.length} of ${sizing.faults * 2} restarts happened`));
    return () => {
      for (const { holder: x, outageMs, killedAt, restartedAt } of restarts) {
        const down = `down ${ms(restartedAt - killedAt)}, ${ms(outageMs)} of it before the restart began`;
        const next = firstGrantAfter(pool.acquisitions, killedAt, x.key);
        // The first grant may come as the server accepts connections, a little before restart()
        // returned; after a short outage the holder may keep the lock, and the next grant follows
        // its release.
        if (next === undefined || next.grantedAt - restartedAt > plan.holdMs[1] + 5_000) {
          findings.push(failure(`locking did not resume within ${ms(plan.holdMs[1] + 5_000)} after the server was restarted (${down})`));
        }
        // The first grant that needed the holder's share (a reader may join a reader, permits may be left).
        const takeover = takeoverOf(pool.acquisitions, x, killedAt);
        if (takeover !== undefined && x.validUntilAtLeast !== undefined && takeover.grantedAt < x.validUntilAtLeast) {
          findings.push(
            failure(`${takeover.id} was granted ${x.key} ${ms(x.validUntilAtLeast - takeover.grantedAt)} before ${x.id}'s first lease ended: the restart lost a committed lease`),
          );
        }
        if (next !== undefined && next.fence <= x.fence) {
          findings.push(failure(`${next.id} got fence ${next.fence} after the restart, not above ${x.id}'s ${x.fence}`));
        }
        const rejected = resource.log.filter((w) => w.acq === x.id && !w.accepted).length;
        findings.push(
          info(
            `${x.id} (fence ${x.fence}) held while the server was killed and restarted (${down}): ` +
              `${x.lossReported ? 'loss reported' : 'kept its lease'}, ${rejected} of its writes rejected, release: ${x.outcome}` +
              (next === undefined ? '' : `; next holder ${next.id} with fence ${next.fence}, ${ms(next.grantedAt - restartedAt)} after the restart`),
          ),
        );
      }
      return findings;
    };
  },
};

/** Redlock over 5 nodes: one node paused for 2 TTL, another killed and restarted (empty) after a TTL. */
const redlockMinority: Scenario = {
  id: 'redlock-minority',
  title: 'Redlock: minority of nodes paused / killed',
  notFor: (backend) => (backend.id === 'redlock' ? undefined : 'Redlock only'),
  plan: (backend) => basePlan(backend, { holdMs: [2, 10] }),
  policy: () => ({ errorsExpected: true, releaseAmbiguous: true }),
  async drive({ pool, deployment, plan, sizing }) {
    const [paused, killed] = deployment.servers;
    if (paused === undefined || killed === undefined) throw new Error('redlock-minority: needs 2+ nodes');
    const marks: Array<[number, string]> = [];
    await pool.runFor(sizing.settleMs);
    for (let i = 0; i < sizing.faults; i++) {
      await paused.pause();
      await killed.kill();
      marks.push([pool.now(), 'a node was paused and another killed']);
      await pool.runFor(plan.ttl * 2);
      await paused.resume();
      // The Redlock paper's delayed restart: an empty node comes back only after a TTL.
      await killed.restart({ empty: true });
      marks.push([pool.now(), 'the nodes came back (one empty)']);
      await pool.runFor(sizing.settleMs);
    }
    return () => marks.map(([at, what]) => resumed(pool, at, 5_000, what));
  },
};

/** A 3-member etcd cluster: SIGKILL the leader mid-run, restart it a few seconds later. */
const etcdLeaderKill: Scenario = {
  id: 'etcd-leader-kill',
  title: 'etcd: leader killed (3 members)',
  notFor: (backend) => (backend.pkg === 'etcd' ? undefined : 'etcd only'),
  plan: (backend) => basePlan(backend, { topology: 'cluster', holdMs: [2, 10] }),
  policy: () => ({ errorsExpected: true, releaseAmbiguous: true }),
  async drive({ pool, deployment, sizing }) {
    const cluster = deployment.cluster;
    if (cluster === undefined) throw new Error('etcd-leader-kill: no cluster');
    const kills: Array<{ at: number; name: string }> = [];
    await pool.runFor(sizing.settleMs);
    for (let i = 0; i < sizing.faults; i++) {
      const leader = await cluster.leader();
      await leader.kill();
      kills.push({ at: pool.now(), name: leader.name });
      await pool.runFor(3_000);
      await leader.restart();
      await pool.runFor(sizing.settleMs);
    }
    // The design target is ~3 s; allow slack for a loaded CI machine.
    return () => kills.map(({ at, name }) => resumed(pool, at, 8_000, `leader ${name} was killed`));
  },
};

export { serverPaused, restartEmpty, serverRestarted, redlockMinority, etcdLeaderKill };
