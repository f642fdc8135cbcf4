// Faults in the network between workers and servers, through the checker's TCP proxies.
import { type Scenario, basePlan, firstGrantAfter, ms, resumed, sleep } from './scenario.js';

/** Through a loopback proxy: 2 ms each way, then every connection cut, then traffic held past the TTL. */
const proxyFaults: Scenario = {
  id: 'proxy-faults',
  title: 'latency, cut connections, held traffic (TCP proxy)',
  notFor: () => undefined,
  plan: (backend) => basePlan(backend, { proxy: true, holdMs: [2, 10] }),
  policy: () => ({ errorsExpected: true, releaseAmbiguous: true }),
  async drive({ pool, proxies, plan, sizing }) {
    for (const proxy of proxies) proxy.delay = 2;
    const marks: Array<[number, string]> = [];
    const resumeWithin = plan.ttl + 8_000;
    // Settle, then keep running until locking resumed after the last fault (up to the bound the
    // verdict allows): a slow recovery is judged, not cut off by the end of the run.
    const settleAfter = async (at: number): Promise<void> => {
      await pool.runFor(sizing.settleMs);
      await pool.runFor(resumeWithin, Infinity, () => firstGrantAfter(pool.acquisitions, at) !== undefined);
    };
    await pool.runFor(sizing.settleMs);
    for (let i = 0; i < sizing.faults; i++) {
      const cut = proxies.reduce((n, proxy) => n + proxy.cut(), 0);
      const cutAt = pool.now();
      marks.push([cutAt, `${cut} connections were cut`]);
      await settleAfter(cutAt);
      for (const proxy of proxies) proxy.hold();
      await sleep(Math.round(plan.ttl * 1.2));
      for (const proxy of proxies) proxy.heal();
      const healedAt = pool.now();
      marks.push([healedAt, `traffic was held for ${ms(plan.ttl * 1.2)}`]);
      await settleAfter(healedAt);
    }
    return () => marks.map(([at, what]) => resumed(pool, at, resumeWithin, what));
  },
};

export { proxyFaults };
