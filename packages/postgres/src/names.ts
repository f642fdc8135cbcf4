import { InvalidOptionError } from '@dlock/core';

/** PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1). */
const MAX_IDENTIFIER_BYTES = 63;
/** Appended to the table's name for its fence sequence. */
const SEQUENCE_SUFFIX = '_fence';
/** Appended to the table's name for its wait list (no longer than {@link SEQUENCE_SUFFIX}). */
const WAITS_SUFFIX = '_waits';
const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * An identifier option (`table`, `schema`, `channel`): letters, digits and underscores, not
 * starting with a digit, at most `maxBytes` long. Always double-quoted in SQL, so it is used
 * exactly as given (case included) and can never inject SQL.
 */
export function validateIdentifier(option: string, value: unknown, maxBytes = MAX_IDENTIFIER_BYTES): string {
  if (typeof value !== 'string' || !identifier.test(value) || value.length > maxBytes) {
    throw new InvalidOptionError(
      option,
      `a SQL identifier of letters, digits and "_" (not starting with a digit), at most ${maxBytes} characters`,
      value,
    );
  }
  return value;
}

/** The table's name: leaves room for its sequence's suffix within PostgreSQL's limit. */
export function validateTable(value: unknown): string {
  return validateIdentifier('table', value, MAX_IDENTIFIER_BYTES - SEQUENCE_SUFFIX.length);
}

/** The quoted names every statement uses. */
export interface LockNames {
  /** `"dlock_locks"` or `"schema"."dlock_locks"`. */
  readonly table: string;
  /** The fence sequence, quoted like the table. */
  readonly sequence: string;
  /** The wait list of a fair lock (`<table>_waits`), quoted like the table. */
  readonly waits: string;
  /** The wait list's index of arrival order (unqualified: an index lives in its table's schema). */
  readonly waitsIndex: string;
  /** The notification channel, unquoted (as `pg_notify` takes it and notifications carry it). */
  readonly channel: string;
}

/** Quoted names for validated identifiers; without a schema, the connection's `search_path` decides. */
export function lockNames(table: string, schema: string | undefined, channel: string): LockNames {
  const qualify = (name: string): string => (schema === undefined ? `"${name}"` : `"${schema}"."${name}"`);
  return {
    table: qualify(table),
    sequence: qualify(`${table}${SEQUENCE_SUFFIX}`),
    waits: qualify(`${table}${WAITS_SUFFIX}`),
    waitsIndex: `"${table}_line"`,
    channel,
  };
}

// Keys are stored as text, which cannot hold NUL. NUL and the escape character U+FFFF (a
// noncharacter) are written as U+FFFF followed by "0" or "1": any other key is stored as it is,
// and the mapping stays one-to-one.
const ESCAPE = '\uFFFF';
const needsEscape = /[\u0000\uFFFF]/;

/** The text a key is stored (and notified) as. */
export function storedKey(key: string): string {
  if (!needsEscape.test(key)) return key;
  return key.replace(/[\u0000\uFFFF]/g, (c) => (c === '\u0000' ? `${ESCAPE}0` : `${ESCAPE}1`));
}

/** The key a stored text (a notification payload) stands for. */
export function keyOfStored(stored: string): string {
  if (!stored.includes(ESCAPE)) return stored;
  return stored.replace(/\uFFFF([01])/g, (_, c: string) => (c === '0' ? '\u0000' : ESCAPE));
}

/**
 * Between the key and the next waiter's token in a fair lock's notification: U+FFFF then "2",
 * which no stored key contains (its U+FFFF is always followed by "0" or "1").
 */
export const NEXT_WAITER_MARK = `${ESCAPE}2`;

/** A notification's payload: the released key, and the token of the waiter first in line if named. */
export function parseNotification(payload: string): { key: string; next: string | undefined } {
  const mark = payload.indexOf(NEXT_WAITER_MARK);
  if (mark < 0) return { key: keyOfStored(payload), next: undefined };
  return { key: keyOfStored(payload.slice(0, mark)), next: payload.slice(mark + NEXT_WAITER_MARK.length) };
}
