// Where the job's results go: a Redis hash, one field per period, guarded by a fencing check.
// The resource itself refuses a write whose term is lower than one it has already accepted, so a
// leader that lost its leadership without noticing yet (paused, partitioned; its lease ran out
// and another pod was elected with a higher term) cannot overwrite the new leader's work.
import { Redis } from 'ioredis';

// KEYS[1]  the highest term accepted so far (a decimal string)
// KEYS[2]  the results: period -> result (JSON)
// ARGV[1]  the writer's term (a decimal string: terms may exceed 2^53, Lua numbers are doubles)
// ARGV[2]  the period
// ARGV[3]  the result
// Returns  {'written', term} | {'stale', highest term} | {'duplicate', highest term}
const fencedWrite = `
local fence = redis.call('GET', KEYS[1])
local term = ARGV[1]
if fence and (#fence > #term or (#fence == #term and fence > term)) then
  return {'stale', fence}
end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then
  return {'duplicate', fence or term}
end
redis.call('SET', KEYS[1], term)
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return {'written', term}
`;

/** The Redis names of `job`'s results under `prefix` (one hash tag: one Cluster slot). */
export function resultKeys(prefix, job) {
  return { fence: `${prefix}:{${job}}:fence`, results: `${prefix}:{${job}}:results` };
}

export class FencedResults {
  #client;
  #keys;

  constructor(redisUrl, prefix, job) {
    this.#client = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
    this.#client.on('error', () => undefined); // reconnects by itself; a failing call says why
    this.#keys = resultKeys(prefix, job);
  }

  /**
   * Records `result` for `period`, fenced by `term`: `written`, `stale` (a leader with a higher
   * term has written: this writer is not the leader any more) or `duplicate` (the period has a
   * result already). `fence`: the highest term the store has accepted.
   */
  async write(term, period, result) {
    const [outcome, fence] = await this.#client.eval(fencedWrite, 2, this.#keys.fence, this.#keys.results, String(term), String(period), JSON.stringify(result));
    return { outcome, fence: BigInt(fence) };
  }

  /** Whether `period` has a result (a leader that took over mid-period skips a done run). */
  async has(period) {
    return (await this.#client.hexists(this.#keys.results, String(period))) === 1;
  }

  close() {
    this.#client.disconnect();
  }
}
