/**
 * Reading the parts of a script reply, for the `parse` of a script definition. Integers may
 * arrive as numbers or as strings (ioredis `stringNumbers`), text as strings or Buffers, and
 * large counters as decimal strings (exact beyond 2^53). Each helper throws an `Error` saying
 * what it expected; `defineScript` turns it into an `UnexpectedReplyError` naming the script.
 */

/** `reply` as an array of exactly `length` elements (one of `length` when several are allowed). */
export function tuple(reply: unknown, ...length: number[]): unknown[] {
  if (!Array.isArray(reply) || !length.includes(reply.length)) {
    throw new Error(`expected an array of ${length.join(' or ')} elements`);
  }
  return reply;
}

/** An integer reply (`-2`, `'15000'`). */
export function integer(value: unknown, what = 'value'): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isInteger(n)) throw new Error(`${what}: expected an integer, got ${show(value)}`);
  return n;
}

/** `1` (true) or `0` (false): the answer of an owner-checked script. */
export function flag(value: unknown, what = 'flag'): boolean {
  const n = integer(value, what);
  if (n !== 0 && n !== 1) throw new Error(`${what}: expected 0 or 1, got ${show(value)}`);
  return n === 1;
}

/** A non-negative integer of any size, sent as a decimal string (or a number below 2^53). */
export function decimal(value: unknown, what = 'value'): bigint {
  // The common case, an integer reply below 2^53, without a string and a regular expression.
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  const text = Buffer.isBuffer(value) ? value.toString() : typeof value === 'number' || typeof value === 'string' ? String(value) : '';
  if (!/^\d+$/.test(text)) throw new Error(`${what}: expected a decimal integer, got ${show(value)}`);
  return BigInt(text);
}

/** A text reply (a token, a holder). */
export function text(value: unknown, what = 'value'): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString();
  throw new Error(`${what}: expected text, got ${show(value)}`);
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
