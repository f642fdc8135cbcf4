import { KeyQueue, LockAcquireTimeoutError, type QueueTicket } from '@dlock/core';

interface WaitOptions {
  signal?: AbortSignal | undefined;
  waitTimeout?: number | undefined;
}

interface NameSlots {
  /** `used[i]`: slot i is taken. */
  readonly used: boolean[];
  inUse: number;
  /** Grants so far: the next grant's turn number. */
  granted: number;
  /** The turn whose put may go now (all earlier ones are done). */
  turn: number;
  /** Turns done before their predecessors (given up early); made on first use. */
  doneEarly: Set<number> | undefined;
  /** Callers waiting in {@link QueueSlots.waitTurn}: only then does a turn's end wake anyone. */
  turnWaiters: number;
}

/**
 * A slot of one name. Its turn orders the puts: etcd orders the queue by create revision, so
 * for this instance's callers to be served in the order they came, each one's put must be
 * committed before the next one's is sent ({@link QueueSlots.waitTurn}, {@link Slot.turnDone}).
 */
export interface Slot {
  readonly index: number;
  /** Frees the slot (hands it to the oldest waiter) and ends the turn if still open. Idempotent. */
  readonly release: () => void;
  /** Our put is committed (or given up): the next caller may put. Idempotent. */
  readonly turnDone: () => void;
  /** @internal */
  readonly turn: number;
}

/**
 * Per lock name, up to `size` numbered slots; a caller takes the lowest free one, or waits in
 * arrival order. `EtcdMutex` names its queue key after the slot (with the lease), so one
 * instance has at most `size` keys queued per name in etcd and a key name is never used by two
 * callers at once. Every caller with a slot puts its key when it comes, so etcd's revision order
 * is the order callers of every instance came in (fair across processes), up to `size` callers
 * of one instance; further ones wait here for a slot, and put theirs when they get it.
 *
 * Waiting is core's {@link KeyQueue}: callers waiting for a slot queue under the name and are
 * granted a freed slot in arrival order; a caller waiting for its turn sleeps on a ticket of
 * its own turn, notified when the turn before it ends. Every step that reads and changes the
 * slots is synchronous, so a slot can never be handed to two callers.
 */
export class QueueSlots {
  readonly #names = new Map<string, NameSlots>();
  /** Callers waiting for a slot, per name. */
  readonly #waiting = new KeyQueue<Slot>();
  /** Callers waiting for their turn, per name and turn. */
  readonly #turns = new KeyQueue<never>();

  constructor(readonly size: number) {}

  /** Slots of `name` in use now. */
  inUse(name: string): number {
    return this.#names.get(name)?.inUse ?? 0;
  }

  /** Slot 0 when nobody of this instance uses `name` at all (tryLock: no local holder or waiter); else `null`. */
  tryTakeIdle(name: string): Slot | null {
    if (this.#names.has(name)) return null;
    return this.#take(name, this.#slots(name));
  }

  /** A slot of `name` at once if one is free and nobody waits for one; else `null` (then {@link take}). */
  takeNow(name: string): Slot | null {
    const slots = this.#slots(name);
    return slots.inUse < this.size && this.#waiting.queued(name) === 0 ? this.#take(name, slots) : null;
  }

  /** Whether `slot`'s put may go now (every caller granted a slot before it has put): no {@link waitTurn} needed. */
  isTurn(name: string, slot: Slot): boolean {
    const slots = this.#names.get(name);
    return slots === undefined || slots.turn === slot.turn;
  }

  /**
   * Resolves to a slot of `name`, waiting in arrival order while all are taken. Rejects with
   * `signal.reason` on abort and with `LockAcquireTimeoutError` after `waitTimeout` ms; a
   * rejected caller leaves the queue.
   */
  async take(name: string, options: WaitOptions = {}): Promise<Slot> {
    const { signal, waitTimeout } = options;
    signal?.throwIfAborted();
    const slots = this.#slots(name);
    if (slots.inUse < this.size && this.#waiting.queued(name) === 0) return this.#take(name, slots);
    if (waitTimeout === 0) throw new LockAcquireTimeoutError(name, 0);
    const ticket = this.#waiting.enqueue(name);
    try {
      for (const deadline = deadlineOf(waitTimeout); ; ) {
        await sleepUntil(ticket, name, deadline, waitTimeout, signal);
        const slot = await ticket.takeGrant();
        if (slot !== null) return slot;
      }
    } catch (error) {
      ticket.leave(false);
      // Handed a slot while giving up: pass it on.
      if (ticket.granted) (await ticket.takeGrant())?.release();
      this.#dropIfIdle(name, slots);
      throw error;
    }
  }

  /**
   * Resolves when every caller of `name` granted a slot before `slot` has finished its put.
   * Rejects like {@link take} on abort or timeout (the caller then releases the slot).
   */
  async waitTurn(name: string, slot: Slot, options: WaitOptions = {}): Promise<void> {
    const slots = this.#names.get(name);
    if (slots === undefined || slots.turn === slot.turn) return;
    const { signal, waitTimeout } = options;
    const ticket = this.#turns.enqueue(turnKey(name, slot.turn));
    slots.turnWaiters++;
    try {
      for (const deadline = deadlineOf(waitTimeout); slots.turn !== slot.turn; ) {
        await sleepUntil(ticket, name, deadline, waitTimeout, signal);
      }
    } finally {
      slots.turnWaiters--;
      ticket.leave(true);
    }
  }

  #slots(name: string): NameSlots {
    let slots = this.#names.get(name);
    if (slots === undefined) {
      slots = { used: [], inUse: 0, granted: 0, turn: 0, doneEarly: undefined, turnWaiters: 0 };
      this.#names.set(name, slots);
    }
    return slots;
  }

  #take(name: string, slots: NameSlots): Slot {
    let index = 0;
    while (slots.used[index] === true) index++;
    slots.used[index] = true;
    slots.inUse++;
    return this.#grant(name, slots, index);
  }

  /** A slot handed out now: its turn is the next in grant order (synchronous, so FIFO). */
  #grant(name: string, slots: NameSlots, index: number): Slot {
    const turn = slots.granted++;
    let turnOpen = true;
    let held = true;
    const turnDone = (): void => {
      if (!turnOpen) return;
      turnOpen = false;
      this.#endTurn(name, slots, turn);
    };
    const release = (): void => {
      if (!held) return;
      held = false;
      turnDone();
      const next = this.#waiting.first(name);
      if (next !== undefined) {
        next.grant(this.#grant(name, slots, index));
        return;
      }
      slots.used[index] = false;
      slots.inUse--;
      this.#dropIfIdle(name, slots);
    };
    return { index, turn, release, turnDone };
  }

  #endTurn(name: string, slots: NameSlots, turn: number): void {
    if (turn === slots.turn && slots.doneEarly === undefined) slots.turn++; // in order: the usual case
    else {
      const early = (slots.doneEarly ??= new Set());
      early.add(turn);
      while (early.delete(slots.turn)) slots.turn++;
      if (early.size === 0) slots.doneEarly = undefined;
    }
    // Every step here is synchronous, so a caller that checked its turn before this either sleeps
    // on its ticket now or has not queued at all: nobody to tell when nobody waits.
    if (slots.turnWaiters > 0) this.#turns.notify(turnKey(name, slots.turn));
  }

  #dropIfIdle(name: string, slots: NameSlots): void {
    if (slots.inUse === 0 && this.#waiting.queued(name) === 0 && this.#names.get(name) === slots) this.#names.delete(name);
  }
}

function turnKey(name: string, turn: number): string {
  return `${turn}\u0000${name}`;
}

function deadlineOf(waitTimeout: number | undefined): number {
  return waitTimeout === undefined ? Infinity : performance.now() + waitTimeout;
}

/** One sleep of `ticket`, at most until `deadline`; past it, `LockAcquireTimeoutError`. */
async function sleepUntil<G>(
  ticket: QueueTicket<G>,
  name: string,
  deadline: number,
  waitTimeout: number | undefined,
  signal: AbortSignal | undefined,
): Promise<void> {
  const left = deadline - performance.now();
  if (left <= 0) throw new LockAcquireTimeoutError(name, waitTimeout ?? 0);
  await ticket.sleep(left, signal);
}
