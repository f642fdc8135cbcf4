// Faults in the network between workers and servers, through the checker's TCP proxies.
import { type Scenario, basePlan, ms, resumed, sleep } from './scenario.js';

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
    await pool.runFor(sizing.settleMs);
    for (let i = 0; i < sizing.faults; i++) {
      const cut = proxies.reduce((n, proxy) => n + proxy.cut(), 0);
      marks.push([pool.now(), `${cut} connections were cut`]);
      await pool.runFor(sizing.settleMs);
      for (const proxy of proxies) proxy.hold();
      await sleep(Math.round(plan.ttl * 1.2));
      for (const proxy of proxies) proxy.heal();
      marks.push([pool.now(), `traffic was held for ${ms(plan.ttl * 1.2)}`]);
      await pool.runFor(sizing.settleMs);
    }
    return () => marks.map(([at, what]) => resumed(pool, at, plan.ttl + 8_000, what));
  },
};

export { proxyFaults };
