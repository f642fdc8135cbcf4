import { GRPCCancelledError, GRPCDeadlineExceededError, type IDuplexStream, type ILeaseKeepAliveRequest, type ILeaseKeepAliveResponse } from 'etcd3';
import type { EtcdClient } from './client.js';

type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

interface Pending {
  resolve(ttlSeconds: number): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Keep-alives of every lease of one lock instance over one `LeaseKeepAlive` stream, opened on
 * first use and again after it fails. etcd answers the requests of a stream in order, so the
 * answers for one lease id are matched first-in, first-out.
 *
 * A request without an answer within `timeoutMs` fails, and the stream is dropped with it: a
 * stream that stops answering is usually stuck on a paused or partitioned member, and the next
 * request opens a new one (on the next member).
 */
export class KeepAliveChannel {
  readonly #client: EtcdClient;
  readonly #pending = new Map<string, Pending[]>();
  #stream: Promise<KeepAliveStream> | undefined;
  #closed = false;

  constructor(client: EtcdClient) {
    this.#client = client;
  }

  /** Renews lease `id`: resolves to the TTL (seconds) etcd reports, `0` when the lease is gone. */
  async send(id: string, timeoutMs: number): Promise<number> {
    if (this.#closed) throw new GRPCCancelledError('keep-alive channel closed');
    const current = this.#open();
    const stream = await current;
    if (this.#stream !== current) throw new GRPCCancelledError('keep-alive stream was reset');
    return new Promise<number>((resolve, reject) => {
      const pending: Pending = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#reset(current, new GRPCDeadlineExceededError(`etcd did not answer a lease keep-alive within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      pending.timer.unref();
      const queue = this.#pending.get(id);
      if (queue === undefined) this.#pending.set(id, [pending]);
      else queue.push(pending);
      stream.write({ ID: id });
    });
  }

  /** Ends the stream and fails what is pending. */
  close(): void {
    this.#closed = true;
    if (this.#stream !== undefined) this.#reset(this.#stream, new GRPCCancelledError('keep-alive channel closed'));
  }

  #open(): Promise<KeepAliveStream> {
    if (this.#stream !== undefined) return this.#stream;
    const opening: Promise<KeepAliveStream> = this.#client.leaseClient.leaseKeepAlive().then((stream) => {
      stream.on('data', (response) => {
        if (this.#stream === opening) this.#answer(response);
      });
      const fail = (error: Error) => {
        if (this.#stream === opening) this.#reset(opening, error);
      };
      stream.on('error', fail);
      stream.on('end', () => fail(new GRPCCancelledError('keep-alive stream ended')));
      return stream;
    });
    this.#stream = opening;
    // A failed open fails the sends awaiting it; the next send tries again.
    opening.catch((error: unknown) => {
      if (this.#stream === opening) this.#stream = undefined;
      return error;
    });
    return opening;
  }

  #answer(response: ILeaseKeepAliveResponse): void {
    const queue = this.#pending.get(response.ID);
    const pending = queue?.shift();
    if (queue !== undefined && queue.length === 0) this.#pending.delete(response.ID);
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    pending.resolve(Number(response.TTL));
  }

  #reset(stream: Promise<KeepAliveStream>, error: Error): void {
    if (this.#stream !== stream) return;
    this.#stream = undefined;
    const pending = [...this.#pending.values()].flat();
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    stream.then(
      (s) => s.cancel(),
      () => undefined,
    );
  }
}
