import { Handle } from '../handle.js';
import type { TransferResult } from './driver.js';
import type { EngineCore } from './engine-core.js';
import type { QueueTicket } from './key-queue.js';

/** What a waiter offers a releasing holder: its own token and TTL, to take the lock over with. */
interface HandOverOffer {
  readonly token: string;
  readonly ttl: number;
}

/** A sleeping waiter picked by a releasing holder to take the lock over. */
export interface HandOverClaim<D> {
  readonly ticket: QueueTicket<Handle<D>>;
  readonly offer: HandOverOffer;
  /** The waiter is in the holder's turn (see `DriverFeatures.turns`): the driver need not ask the line. */
  readonly turn: boolean;
  /** Delivers the handed-over lock, or `null` when the hand-over did not happen. Call exactly once. */
  readonly settle: (granted: Handle<D> | null) => void;
}

const offers = new WeakMap<QueueTicket<never>, HandOverOffer>();

/** A waiter of `lock()` may be handed the lock with this token and TTL. */
export function offerHandOver<D>(ticket: QueueTicket<Handle<D>>, offer: HandOverOffer): void {
  offers.set(ticket as unknown as QueueTicket<never>, offer);
}

/**
 * A local waiter to hand `h` to, when the driver can transfer and this run of hand-overs may go
 * on: the first sleeping waiter of the key, now woken and waiting for its grant. With turns, the
 * first sleeping one of `h`'s turn, or after the turn the first with a place in the line (only it
 * can be first there).
 */
export function claimWaiter<D>(core: EngineCore<D>, h: Handle<D>): HandOverClaim<D> | undefined {
  if (core.driver.features.transfer === undefined || h.handOvers >= core.options.maxLocalHandOvers) return undefined;
  let turn = false;
  let ticket: QueueTicket<Handle<D>> | undefined;
  if (core.turns) {
    ticket = core.queue.first(h.key, (t) => t.sleeping && (t.seq <= h.turnUntil || t.placed));
    turn = ticket !== undefined && ticket.seq <= h.turnUntil;
  } else {
    ticket = core.queue.first(h.key, (t) => t.sleeping);
  }
  const offer = ticket === undefined ? undefined : offers.get(ticket as unknown as QueueTicket<never>);
  if (ticket === undefined || offer === undefined) return undefined;
  return { ticket, offer, turn, settle: ticket.reserve() };
}

/**
 * unlock() by handing the lock to the claimed waiter: `true` when `h` was still ours (it is now
 * the waiter's, or released if the waiter cannot take it), `false` when `h` was lost. The
 * waiter gets the new handle, or `null` and tries by itself.
 */
export async function handOver<D>(core: EngineCore<D>, h: Handle<D>, claim: HandOverClaim<D>): Promise<boolean> {
  const { token, ttl } = claim.offer;
  const startedAt = core.now(); // the new holder's validity counts from before the request
  let result: TransferResult<D>;
  try {
    result = await core.driver.features.transfer!(h, token, ttl, claim.turn);
  } catch (error) {
    claim.settle(null);
    throw error;
  }
  if (!result.acquired) {
    claim.settle(null);
    // Released instead (the waiter was not first in line): a release, not a loss.
    return 'released' in result;
  }
  const next = new Handle<D>(core.owner, h.key, token, result.fencingToken, ttl, core.validUntil(result.validFrom ?? startedAt, ttl), result.data);
  next.handOvers = h.handOvers + 1;
  // The turn goes on, or (a waiter first in line) a new one begins with the callers queued by now.
  next.turnUntil = claim.turn ? h.turnUntil : core.queue.lastSeq;
  if (claim.ticket.left || core.closed || next.validUntil <= core.now()) {
    // Nobody to take it (or its lease is already over): a real release, which wakes the next waiter.
    await core.giveBack(next);
    claim.settle(null);
    return true;
  }
  core.held.add(next);
  claim.settle(next);
  return true;
}
