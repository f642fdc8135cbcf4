// One OS process of the safety checker. Plain Node: it is forked by the checker with an IPC
// channel and imports a backend's built package through an adapter (./adapters.mjs).
//
// argv[2] is the JSON config (see WorkerConfig in ./types.ts). `workers` async loops share one
// lock instance, as the async tasks of one service would, and take keys at random until the
// checker says stop. Each acquisition talks to the checker's fenced resource:
//
//   acq (registers the fencing token) -> write x N -> rel (release intent) -> release() -> done
//
// Every step but `done` waits for the checker's ack. The checker stamps each step on its own
// clock when it receives it; after each ack this process checks that the lock is still valid
// (`handle.held` and `performance.now() < handle.validUntil`) and says so in its next message.
// The stamp of a step followed by a positive check is a moment the holder surely held the lock,
// which is what lets the checker judge overlaps on a single clock without trusting ours.
//
// The worker never stops writing on its own when the lock is gone: it plays the holder that did
// not look (or was paused between looking and writing), so that fencing is what must stop it.
import { acquirer } from './acquire.mjs';
import { adapters } from './adapters.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');
const stop = new AbortController();
let closing = false;

function send(message) {
  if (process.connected) process.send(message, undefined, undefined, () => undefined);
}

function describe(value) {
  if (value instanceof Error) return `${value.name}: ${value.message}${value.stack ? `\n${value.stack.split('\n').slice(1, 6).join('\n')}` : ''}`;
  return String(value);
}

// A library that lets a rejection escape (a failed renewal, a missed catch) shows up here.
process.on('unhandledRejection', (reason) => send({ t: 'unhandled', kind: 'unhandledRejection', message: describe(reason) }));
process.on('uncaughtException', (error) => send({ t: 'unhandled', kind: 'uncaughtException', message: describe(error) }));
// The checker went away: do not linger as an orphan holding locks.
process.on('disconnect', () => {
  if (!closing) process.exit(70);
});

let nextRequest = 0;
const pending = new Map();
let started;
const start = new Promise((resolve) => (started = resolve));

process.on('message', (message) => {
  switch (message.t) {
    case 'ping':
      send({ t: 'pong', c0: message.c0, w: performance.now() });
      break;
    case 'ack': {
      const resolve = pending.get(message.id);
      pending.delete(message.id);
      resolve?.(message);
      break;
    }
    case 'start':
      started();
      break;
    case 'stop':
      stop.abort(new Error('safety run stopped'));
      started();
      break;
  }
});

/** Sends a step to the checker and waits for its ack. */
function request(message) {
  const id = ++nextRequest;
  return new Promise((resolve) => {
    pending.set(id, resolve);
    send({ ...message, t: 'req', id });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const between = ([min, max]) => min + Math.random() * (max - min);

function errorInfo(error) {
  return { name: error?.name ?? typeof error, message: error?.message ?? String(error) };
}

/**
 * One acquisition's critical section, release and report. `claim` is what it holds besides the
 * key, `calledAt` when the acquiring call began; a `lapse` does not renew and holds on for about
 * 2 TTL, writing on (a holder that stopped renewing, which fencing must stop).
 */
async function holdAndRelease(lock, handle, acq, worker, { claim, calledAt, lapse }) {
  const renew = config.autoRenew && !lapse && typeof lock.autoRenew === 'function';
  const stopRenew = renew ? lock.autoRenew(handle) : undefined;
  let loss;
  let releasing = false;
  const onAbort = () => {
    const reason = handle.signal.reason;
    if (reason?.name !== 'LockLostError') return;
    // Lost while the handle still claimed validity: the server no longer had it before the
    // deadline the library promised (the expiry timer itself may fire a hair early: ms timers).
    // Once release() was called, the lock may have vanished by our own release (a late or
    // re-sent one): that is told apart as `releaseEarly`.
    const left = handle.validUntil - performance.now();
    const early = left > config.earlyToleranceMs;
    loss = { early: early && !releasing, releaseEarly: early && releasing, message: `${reason.message} (${Math.round(left)} ms before validUntil)` };
  };
  if (handle.signal.aborted) onAbort();
  else handle.signal.addEventListener('abort', onAbort, { once: true });
  const valid = () => handle.held && performance.now() < handle.validUntil;
  const base = { acq, worker, key: handle.key, fence: handle.fencingToken };

  const now = performance.now();
  await request({ ...base, ...claim, kind: 'acq', token: handle.token.slice(0, 8), validUntil: handle.validUntil, validLeft: handle.validUntil - now, calledAt, lapse });
  let after = valid();
  const hold = lapse ? config.ttl * 2 + 500 : between(config.holdMs);
  for (let index = 0; index < config.writes; index++) {
    await sleep(hold / config.writes);
    await request({ ...base, kind: 'write', index, prevValid: after });
    after = valid();
  }
  await request({ ...base, kind: 'rel', prevValid: after });
  after = valid();

  let outcome = 'released';
  let error;
  releasing = true;
  try {
    await handle.release();
  } catch (e) {
    outcome = e?.name === 'LockNotHeldError' ? 'not-held' : 'release-error';
    if (outcome === 'release-error') error = errorInfo(e);
  } finally {
    stopRenew?.();
  }
  if (outcome === 'release-error') {
    // The release may or may not have happened; the handle now runs out at validUntil, and its
    // signal must say so then. Wait for that (bounded by the TTL).
    const wait = Math.min(handle.validUntil - performance.now(), config.ttl) + 50;
    if (!handle.signal.aborted && wait > 0) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, wait);
        handle.signal.addEventListener('abort', () => resolve(clearTimeout(timer)), { once: true });
      });
    }
  }
  handle.signal.removeEventListener('abort', onAbort);
  send({
    t: 'done',
    acq,
    prevValid: after,
    outcome,
    lost: loss !== undefined,
    early: loss?.early === true,
    releaseEarly: loss?.releaseEarly === true && outcome === 'not-held',
    lossMessage: loss?.message,
    error,
  });
}

const acquire = acquirer(config.primitive, config.workload);
let lapses = config.lapses ?? 0;

async function runWorker(lock, worker) {
  for (let n = 0; !stop.signal.aborted; n++) {
    const key = config.keys[Math.floor(Math.random() * config.keys.length)];
    let handle;
    let claim;
    const calledAt = performance.now();
    try {
      ({ handle, claim } = await acquire(lock, key, { ttl: config.ttl, waitTimeout: config.waitTimeout, signal: stop.signal }, `${config.proc}.${worker}`));
    } catch (error) {
      if (stop.signal.aborted) break;
      send({ t: 'error', op: 'acquire', ...errorInfo(error) });
      await sleep(between([10, 60]));
      continue;
    }
    const lapse = worker === 0 && n >= 1 && lapses > 0;
    if (lapse) lapses--;
    await holdAndRelease(lock, handle, `${config.proc}.${worker}.${n}`, worker, { claim, calledAt, lapse });
  }
}

async function main() {
  const adapter = adapters[config.adapter];
  if (adapter === undefined) throw new Error(`no safety adapter named ${config.adapter}`);
  const { lock, close } = await adapter({ module: config.module, connection: config.connection, options: config.lockOptions });
  send({ t: 'ready', pid: process.pid });
  await start;
  if (config.selfTest === 'unhandled-rejection') void Promise.reject(new Error('safety self-test: unhandled rejection'));
  await Promise.all(Array.from({ length: config.workers }, (_, worker) => runWorker(lock, worker)));
  closing = true;
  let closeError;
  try {
    await close();
  } catch (error) {
    closeError = errorInfo(error);
  }
  send({ t: 'closed', error: closeError });
  if (config.selfTest === 'linger') setInterval(() => undefined, 1_000);
  // Nothing else may keep this process alive: the checker counts a worker that does not exit
  // soon after this as leaking handles (an open connection, a timer left by close()).
  process.disconnect();
}

main().catch((error) => {
  send({ t: 'fatal', message: describe(error) });
  closing = true;
  process.disconnect();
  process.exitCode = 1;
});
