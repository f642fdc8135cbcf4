import { randomBytes } from 'node:crypto';

/** A fresh owner token: 128 random bits from the OS CSPRNG, as 32 hex characters. */
export function newToken(): string {
  return randomBytes(16).toString('hex');
}
