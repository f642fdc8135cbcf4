import { releaseLatchKey, type RedisLockKeys, type ReleaseArgs, type Script, type ScriptArg } from '@dlock/redis/protocol';
import { RedlockNodeTimeoutError, RedlockQuorumError, type RedlockNodeFailure } from './errors.js';
import { ANSWER_CAP_FACTOR, NodeClient, type RedlockNode } from './node-client.js';
import { count, gather, quorumOf, type Outcome, type Outcomes } from './quorum.js';

/** What the nodes tell a Redlock beyond command replies. */
export interface NodeEvents {
  /** A release was announced on `channel` by the holder whose token starts with `holder`. */
  message(channel: string, holder: string): void;
  /** A subscriber reconnected: announcements sent during the gap were missed. */
  resubscribed(): void;
}

/**
 * The N independent masters of one Redlock, connected: one call to every node at once, each
 * within the node timeout, the release arguments every path shares, and the error for too few
 * answers. Making one connects (or adopts the given clients).
 */
export class NodeSet {
  /** Nodes that must agree: `floor(nodes / 2) + 1`. */
  readonly quorum: number;
  readonly #clients: readonly NodeClient[];
  readonly #timeout: number;
  /**
   * Lifetime of a release latch, in ms: twice the longest a reply to a release is waited for,
   * so that a copy of the release that ioredis re-sends after a reconnect, and whose answer we
   * would still accept, finds the latch of the run that deleted the key (see `release.lua`).
   */
  readonly #latchMs: number;

  constructor(nodes: readonly RedlockNode[], nodeTimeout: number, events: NodeEvents) {
    this.quorum = quorumOf(nodes.length);
    this.#timeout = nodeTimeout;
    this.#latchMs = Math.ceil(2 * nodeTimeout * ANSWER_CAP_FACTOR);
    this.#clients = nodes.map(
      (node) =>
        new NodeClient(
          node,
          (channel, holder) => events.message(channel, holder),
          () => events.resubscribed(),
        ),
    );
  }

  get size(): number {
    return this.#clients.length;
  }

  /** Runs `script` on node `i` within the node timeout (and at most `cap` ms in all). */
  run<Args extends readonly ScriptArg[], Reply>(i: number, script: Script<Args, Reply>, args: Args, cap?: number): Promise<Reply> {
    return this.#clients[i]!.run(script, args, this.#timeout, cap);
  }

  /** Runs `script` with the same `args` on every node at once (see `gather` for `decided`). */
  everywhere<Args extends readonly ScriptArg[], Reply>(
    script: Script<Args, Reply>,
    args: Args,
    o: { cap?: number; decided?: (known: Outcomes<Reply>) => boolean } = {},
  ): Promise<Outcomes<Reply>> {
    return gather(this.size, (i) => this.run(i, script, args, o.cap), o.decided);
  }

  /** Runs `script` once per call in one pipeline per node, on every node at once. */
  pipelined<Args extends readonly ScriptArg[], Reply>(
    script: Script<Args, Reply>,
    calls: readonly Args[],
    decided: (known: Outcomes<Array<Reply | Error>>) => boolean,
  ): Promise<Outcomes<Array<Reply | Error>>> {
    return gather(this.size, (i) => this.#clients[i]!.runMany(script, calls, this.#timeout), decided);
  }

  /**
   * Keys and arguments of `release.lua` for `token`. `announce`: publish on the key's channel.
   * `latch`: leave a release latch for re-sent copies of this release (see {@link #latchMs});
   * clean-ups whose answer nobody interprets leave none.
   */
  releaseArgs(k: RedisLockKeys, token: string, o: { announce: boolean; latch: boolean }): ReleaseArgs {
    return [k.lock, releaseLatchKey(k, token), token, o.announce ? k.channel : '', token.slice(0, 16), o.latch ? this.#latchMs : 0];
  }

  /** Subscribes on every node; done once a quorum listens (a node that does not only costs promptness). */
  async subscribe(channel: string): Promise<void> {
    await gather(
      this.size,
      (i) => this.#clients[i]!.subscribe(channel, this.#timeout),
      (known) => count(known, () => true) >= this.quorum,
    );
  }

  unsubscribe(channel: string): void {
    for (const client of this.#clients) client.unsubscribe(channel);
  }

  /** Closes the subscribers, and the connections Redlock made itself. */
  async close(): Promise<void> {
    await Promise.all(this.#clients.map((client) => client.close(this.#timeout)));
  }

  /** The error for an operation that got too few answers to decide, naming every silent node. */
  quorumError<T>(operation: string, key: string, replies: Outcomes<T>): RedlockQuorumError {
    const failures = replies.flatMap((r, i) => this.#failure(i, r));
    return new RedlockQuorumError(operation, key, { nodes: this.size, quorum: this.quorum, answered: this.size - failures.length }, failures);
  }

  #failure<T>(node: number, outcome: Outcome<T> | undefined): RedlockNodeFailure[] {
    if (outcome?.ok) return [];
    const label = this.#clients[node]!.label;
    return [{ node: label, error: outcome?.error ?? new RedlockNodeTimeoutError(label, this.#timeout) }];
  }
}
