import { LockAcquireTimeoutError } from '../errors.js';
import { Handle } from '../handle.js';
import { abortableDelay, withJitter } from '../sleep.js';
import type { AcquireResult, Claim } from './driver.js';
import type { EngineCore } from './engine-core.js';
import { offerHandOver } from './hand-over.js';
import type { QueueTicket } from './key-queue.js';

/** One `lock()` call: what it asks for and until when. */
export interface LockCall {
  readonly key: string;
  readonly token: string;
  readonly ttl: number;
  readonly claim: Claim;
  /** Monotonic deadline (`Infinity` without `waitTimeout`). */
  readonly deadline: number;
  readonly waitTimeout: number | undefined;
  readonly signal: AbortSignal | undefined;
}

/**
 * `lock()` over a driver without a server-side queue: attempt; on "held", queue locally and
 * sleep until a release notification, the holder's lease end, or `maxRetryDelay`; on a backend
 * failure, back off and retry (see `EngineCore.backOff`). A releasing holder of this engine may
 * hand the lock straight to the first sleeping waiter (see hand-over.ts).
 */
export async function waitForLock<D>(core: EngineCore<D>, call: LockCall): Promise<Handle<D>> {
  const { key, token, ttl, claim, deadline, signal } = call;
  const waitList = core.driver.features.waitList !== undefined;
  // Fairness inside one process: a newcomer does not barge past waiters already queued here.
  // With a wait list the server orders every caller, so the first attempt takes a place at once;
  // with turns, one place per engine: behind a caller of ours that holds one, it queues here.
  let tryNow = waitList ? !core.turns || core.queue.first(key, isPlaced) === undefined : core.queue.queued(key) === 0;
  const outage = core.outage(call.waitTimeout);
  // The ticket is queued after the first attempt (an uncontended lock() builds none). A release
  // that names this caller and overtakes that attempt's answer is kept by the queue and found
  // when the ticket joins (see `KeyQueue.notify`); without a feed (the driver calls `released`
  // itself) the waiter checks once more after it queued.
  let ticket: QueueTicket<Handle<D>> | undefined;
  // Releases that found nobody queued here are counted: one during the first attempt wakes the
  // ticket as soon as it is queued (a release feed that does not name the next caller).
  let since = core.queue.epoch;
  // Aborted, or closed: an abort the caller asked for wins over a close() that came after it.
  const stillWanted = () => {
    signal?.throwIfAborted();
    core.assertOpen('lock', key);
  };
  let tracked: (() => void) | undefined;
  let watching = false;
  let acquired = false;
  let placed = false;
  try {
    for (;;) {
      let nap = core.options.maxRetryDelay;
      if (tryNow) {
        signal?.throwIfAborted();
        if (ticket) ticket.woken = false;
        else since = core.queue.epoch;
        // Known to close() before the attempt goes out: close() then waits for its answer, and the
        // place it may take leaves before the connection goes.
        if (waitList) tracked ??= core.trackWaiter();
        try {
          placed = waitList;
          const attempt = await core.attempt(key, token, ttl, signal, claim, true);
          if (attempt instanceof Handle) {
            acquired = true;
            // Its turn: the callers queued here by now take the key before it goes on in the line.
            if (core.turns) attempt.turnUntil = core.queue.lastSeq;
            return attempt;
          }
          outage.clear();
          // Without a release feed a release may go unheard: sleep at most maxRetryDelay.
          if (attempt.retryAfter >= 0 && (core.driver.features.releaseFeed !== undefined || attempt.retryAfter < nap)) {
            nap = withJitter(attempt.retryAfter + 1);
          }
        } catch (error) {
          nap = core.backOff(outage, error, key);
        }
      }
      ticket ??= enqueue(core, call, since);
      if (placed) ticket.placed = true;
      // Subscribe once the backend answers: during an outage the subscription would only fail too.
      if (!watching && !outage.active) {
        // Closed while the attempt was answered: a subscription now would only wait for a closed client.
        stillWanted();
        try {
          const fresh = await core.watch.watch(key);
          watching = true;
          // A release between our attempt and a new subscription would go unseen: try once more.
          if (fresh && tryNow && !outage.active) continue;
        } catch (error) {
          nap = Math.min(nap, core.backOff(outage, core.wrapError('subscribe', key, error), key));
        }
      }
      const left = deadline - core.now();
      if (left <= 0) {
        throw new LockAcquireTimeoutError(key, call.waitTimeout ?? 0, { backend: core.backend, cause: outage.lastError });
      }
      // close() wakes sleepers once: one that closed while this waiter was busy (attempting,
      // subscribing) must not put it to sleep for a whole lease afterwards.
      stillWanted();
      await ticket.sleep(Math.min(nap, left), signal);
      const granted = await ticket.takeGrant();
      if (granted !== null) {
        if (signal?.aborted) {
          await core.owner.unlock(granted).catch(() => undefined);
          throw signal.reason;
        }
        acquired = true;
        return granted;
      }
      stillWanted();
      // With turns, a waiter behind another waiter's place of this engine has nothing to ask the
      // server: that place is told when it comes up, and its turn reaches this waiter by
      // hand-over. So a nap that ends sleeps again, with no call and no place of its own; once
      // no waiter here holds a place (it got the key, or gave up), this one attempts.
      tryNow = !(core.turns && !placed && core.queue.first(key, isPlaced) !== undefined);
    }
  } finally {
    if (ticket !== undefined) {
      ticket.leave(acquired);
      if (watching) core.watch.unwatch(key);
      // The callers queued behind this one's place need another.
      if (ticket.placed && !acquired) core.passPlace(key);
    }
    // A caller that gives up leaves no trace: its place is gone before its rejection is seen.
    // Not while the backend fails (the departure would only wait for the same failure): then
    // it is sent without waiting, and a place it cannot remove expires.
    if (placed && !acquired) {
      const leaving = core.leaveWaitList(key, token);
      if (!outage.active) await leaving;
    }
    tracked?.();
  }
}

/** Whether a local waiter holds a place in the server's wait list. */
function isPlaced(ticket: { readonly placed: boolean }): boolean {
  return ticket.placed;
}

/** Queues `call` locally: its place among this engine's waiters of the key, open to hand-over. */
function enqueue<D>(core: EngineCore<D>, call: LockCall, since: number): QueueTicket<Handle<D>> {
  const ticket = core.queue.enqueue(call.key, core.ordersClaims ? call.claim : undefined, call.token, since);
  offerHandOver(ticket, { token: call.token, ttl: call.ttl });
  return ticket;
}

/**
 * `lock()` over a driver with a server-side queue: the driver waits in it; failures back off
 * and queue again, until the deadline or the signal.
 */
export async function waitInQueue<D>(core: EngineCore<D>, call: LockCall): Promise<Handle<D>> {
  const queue = core.driver.features.queue!;
  const { key, token, ttl, claim, deadline, signal } = call;
  const outage = core.outage(call.waitTimeout);
  for (;;) {
    const startedAt = core.now();
    let result: AcquireResult<D> | undefined;
    try {
      result = await queue({ key, token, ttl, claim, waiting: true }, { deadline, signal });
      outage.clear();
    } catch (error) {
      if (signal?.aborted && error === signal.reason) throw error;
      const nap = core.backOff(outage, core.wrapError('acquire', key, error), key);
      const left = deadline - core.now();
      core.assertOpen('lock', key);
      if (left > 0) await abortableDelay(Math.min(nap, left), signal);
      core.assertOpen('lock', key);
    }
    if (result !== undefined) {
      if (!result.acquired) break;
      const handle = await core.adopt(key, token, ttl, startedAt, result, signal);
      if (handle !== null) return handle;
      core.backOff(outage, core.lateAnswer(key, ttl, startedAt), key); // queued again at once
    }
    if (core.now() >= deadline) break;
  }
  throw new LockAcquireTimeoutError(key, call.waitTimeout ?? 0, { backend: core.backend, cause: outage.lastError });
}
