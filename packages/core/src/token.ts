import { randomFillSync } from 'node:crypto';

const TOKEN_BYTES = 16;
// One CSPRNG call per 256 tokens: a randomBytes() per token (a native call and a fresh buffer)
// was ~10% of the CPU of an uncontended lock+unlock loop on Redis. Each token's bytes are used
// once; the pool is refilled when spent.
const pool = Buffer.alloc(TOKEN_BYTES * 256);
let offset = pool.length;

/** A fresh owner token: 128 random bits from the OS CSPRNG, as 32 hex characters. */
export function newToken(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const token = pool.toString('hex', offset, offset + TOKEN_BYTES);
  offset += TOKEN_BYTES;
  return token;
}
