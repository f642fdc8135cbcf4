// The second process of the multi-process workloads (hot key, read-mostly, watchdog), driven by
// the parent over IPC: { id, op, ... } in, { id, ok, result | error } out. Exits when the parent
// goes.
import { prepareHot } from './hot-loop.mjs';
import { errorText } from './measure.mjs';

let hot;

const ops = {
  /** `loop`: 'hot' (hot-loop.mjs) or 'read-mostly' (read-mostly-loop.mjs). */
  async prepare({ spec, env, params, loop = 'hot' }) {
    await hot?.close();
    hot = undefined;
    const prepare = loop === 'read-mostly' ? (await import('./read-mostly-loop.mjs')).prepareReadMostly : prepareHot;
    hot = await prepare(spec, env, params);
  },
  async run({ params }) {
    return hot.run(params);
  },
  async close() {
    await hot?.close();
    hot = undefined;
  },
  async watchdog({ spec, env, params }) {
    const { runWatchdog } = await import('./watchdog-run.mjs');
    return runWatchdog(spec, env, params);
  },
};

process.on('message', async (msg) => {
  try {
    const result = await ops[msg.op](msg);
    process.send({ id: msg.id, ok: true, result });
  } catch (error) {
    process.send({ id: msg.id, ok: false, error: errorText(error) });
  }
});
process.on('disconnect', () => process.exit(0));
// Bounded in time whatever happens to the parent.
setTimeout(() => process.exit(3), 60 * 60_000).unref();
process.send({ ready: true });
