/**
 * The server answered a script with something its protocol does not allow, e.g. because
 * another program wrote to the lock's keys, or a proxy mangled the reply. Every script of
 * `@dlock/redis` and `@dlock/redlock` reports a malformed reply with this one error; a lock
 * hands it on as the `cause` of a `LockBackendError` (Redis), or as a node's failure inside a
 * `RedlockQuorumError` (Redlock). It is never worth retrying.
 *
 * @example
 * ```ts
 * if (error instanceof LockBackendError && error.cause instanceof UnexpectedReplyError) alertOps(error.cause.script);
 * ```
 */
export class UnexpectedReplyError extends Error {
  /** The script that got the reply (`acquire`, `release`, ...). */
  readonly script: string;
  /** The reply as the client returned it. */
  readonly reply: unknown;

  /**
   * @param script the script's name.
   * @param reply what the server answered.
   * @param problem what is wrong with it (the parse failure), appended to the message and kept as `cause`.
   */
  constructor(script: string, reply: unknown, problem?: Error) {
    super(
      `unexpected reply to the ${script} script: ${describeReply(reply)}` + (problem ? ` (${problem.message})` : ''),
      problem ? { cause: problem } : undefined,
    );
    this.name = 'UnexpectedReplyError';
    this.script = script;
    this.reply = reply;
  }
}

/** A reply in a message: JSON where possible (bigints as `12n`, Buffers as text), at most 200 characters. */
export function describeReply(reply: unknown): string {
  try {
    const json = JSON.stringify(reply, (_key, v: unknown) => {
      if (typeof v === 'bigint') return `${v}n`;
      if (isBufferJson(v)) return Buffer.from(v.data).toString();
      return v;
    });
    return json === undefined ? String(reply) : json.slice(0, 200);
  } catch {
    return String(reply);
  }
}

/** What `JSON.stringify` makes of a Buffer before the replacer sees it. */
function isBufferJson(v: unknown): v is { type: 'Buffer'; data: number[] } {
  return typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data);
}
