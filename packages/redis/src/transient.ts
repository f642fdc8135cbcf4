import { ReplyError } from 'ioredis';
import { UnexpectedReplyError } from '@dlock/redis/protocol';

/** Server error replies that mean "not now" (loading a dataset, a failover, a resharding). */
const passingReplies = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS|MOVED|ASK)\b/;

/**
 * Whether a failed Redis call may succeed if retried: connection failures, timeouts and
 * ioredis's retry limit may pass; an error reply such as `NOAUTH`, `WRONGPASS`, `NOPERM` or
 * `WRONGTYPE`, or a reply the protocol does not allow, will not, so a waiting `lock()` fails
 * at once instead of retrying until its deadline.
 */
export function isTransientRedisError(error: unknown): boolean {
  if (error instanceof UnexpectedReplyError) return false;
  if (!(error instanceof (ReplyError as new () => Error))) return true;
  return passingReplies.test(error.message);
}
