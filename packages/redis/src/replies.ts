import type { LockInfo } from '@dlock/core';

/**
 * Turning script replies into values. Integers may arrive as numbers or strings (ioredis
 * `stringNumbers`), fencing tokens always arrive as decimal strings (exact beyond 2^53).
 */

/**
 * The server answered a script with something the protocol does not allow, e.g. because
 * another program wrote to the lock's keys. The `cause` of a `LockBackendError`.
 *
 * @example
 * ```ts
 * if (error instanceof LockBackendError && error.cause instanceof UnexpectedReplyError) alertOps(error);
 * ```
 */
export class UnexpectedReplyError extends Error {
  constructor(script: string, reply: unknown) {
    super(`unexpected reply to the ${script} script: ${describeReply(reply)}`);
    this.name = 'UnexpectedReplyError';
  }
}

/** `{1, fence}` or `{0, pttl}` from acquire.lua. */
export function parseAcquire(reply: unknown): { acquired: true; fencingToken: bigint } | { acquired: false; pttl: number } {
  if (Array.isArray(reply) && reply.length === 2) {
    const [flag, value] = reply as [unknown, unknown];
    if (Number(flag) === 1) return { acquired: true, fencingToken: toBigInt('acquire', value, reply) };
    if (Number(flag) === 0) return { acquired: false, pttl: toInteger('acquire', value, reply) };
  }
  throw new UnexpectedReplyError('acquire', reply);
}

/** 1 or 0 from release.lua / renew.lua. */
export function parseFlag(script: string, reply: unknown): boolean {
  const n = Number(reply);
  if (n === 1) return true;
  if (n === 0) return false;
  throw new UnexpectedReplyError(script, reply);
}

/** `nil` or `{token, pttl, fence}` from inspect.lua. */
export function parseInspect(key: string, reply: unknown): LockInfo | null {
  if (reply === null || reply === undefined) return null;
  if (Array.isArray(reply) && reply.length === 3) {
    const [token, pttl, fence] = reply as [unknown, unknown, unknown];
    return {
      key,
      holder: String(token).slice(0, 8),
      ttlRemaining: toInteger('inspect', pttl, reply),
      fencingToken: toBigInt('inspect', fence, reply),
    };
  }
  throw new UnexpectedReplyError('inspect', reply);
}

function toInteger(script: string, value: unknown, reply: unknown): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new UnexpectedReplyError(script, reply);
  return n;
}

function toBigInt(script: string, value: unknown, reply: unknown): bigint {
  const text = Buffer.isBuffer(value) ? value.toString() : String(value);
  if (!/^\d+$/.test(text)) throw new UnexpectedReplyError(script, reply);
  return BigInt(text);
}

function describeReply(reply: unknown): string {
  try {
    return JSON.stringify(reply, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))?.slice(0, 200) ?? String(reply);
  } catch {
    return String(reply);
  }
}
