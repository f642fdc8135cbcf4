import releaseLua from './lua/release.lua?raw';
import { flag } from './replies.js';
import { defineScript } from './script.js';

/**
 * Arguments of {@link releaseScript}: the lock key, the token's release latch
 * (`releaseLatchKey`), the token, the channel (`''`: publish nothing), the message, and the
 * latch's lifetime in ms (`0`: no latch).
 */
export type ReleaseArgs = readonly [lock: string, latch: string, token: string, channel: string, message: string, latchMs: number];

/**
 * The owner-checked release with a release latch, the same on a Redis server and on each
 * Redlock node (source: `lua/release.lua`). Resolves `true` when the lock was held by the token
 * and is deleted now (or an earlier run of this same release did that), `false` when it was not.
 */
export const releaseScript = defineScript<ReleaseArgs, boolean>({
  name: 'release',
  source: releaseLua,
  keys: 2,
  parse: (reply) => flag(reply),
});
