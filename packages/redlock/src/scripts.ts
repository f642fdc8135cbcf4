import { decimal, defineScript, flag, integer, releaseScript, text, tuple } from '@dlock/redis/protocol';
import acquireSource from './lua/acquire.lua?raw';
import extendSource from './lua/extend.lua?raw';
import inspectSource from './lua/inspect.lua?raw';
import raiseSource from './lua/raise.lua?raw';
import type { Refusal } from './quorum.js';

/** One node's answer to `acquire.lua`: taken with this node's fencing floor, or refused. */
export type AcquireReply = { readonly taken: true; readonly floor: bigint } | ({ readonly taken: false } & Refusal);

/** One node's answer to `inspect.lua`: `null` when the key is free there. */
export type InspectReply = { readonly holder: string; readonly pttl: number; readonly counter: bigint } | null;

/**
 * The per-node scripts of Redlock (see the header of each file in `src/lua/`; `release` is the
 * one of `@dlock/redis/protocol`, the same on every Redis lock).
 */
export const scripts = Object.freeze({
  acquire: defineScript<readonly [lock: string, fence: string, token: string, ttl: number], AcquireReply>({
    name: 'acquire',
    source: acquireSource,
    keys: 2,
    parse: (reply) => {
      const parts = tuple(reply, 2, 3);
      if (parts.length === 2 && flag(parts[0], 'taken')) return { taken: true, floor: decimal(parts[1], 'floor') };
      if (parts.length === 3 && !flag(parts[0], 'taken')) {
        return { taken: false, pttl: integer(parts[1], 'pttl'), holder: text(parts[2], 'holder') };
      }
      throw new Error('expected {1, floor} or {0, pttl, holder}');
    },
  }),
  raise: defineScript<readonly [lock: string, fence: string, token: string, fencingToken: string], boolean>({
    name: 'raise',
    source: raiseSource,
    keys: 2,
    parse: (reply) => flag(reply),
  }),
  release: releaseScript,
  extend: defineScript<readonly [lock: string, token: string, ttl: number], boolean>({
    name: 'extend',
    source: extendSource,
    keys: 1,
    parse: (reply) => flag(reply),
  }),
  inspect: defineScript<readonly [lock: string, fence: string], InspectReply>({
    name: 'inspect',
    source: inspectSource,
    keys: 2,
    parse: (reply) => {
      const parts = tuple(reply, 0, 3);
      if (parts.length === 0) return null;
      return { holder: text(parts[0], 'holder'), pttl: integer(parts[1], 'pttl'), counter: decimal(parts[2], 'counter') };
    },
  }),
});
