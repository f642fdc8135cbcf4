import { createHash } from 'node:crypto';
import acquireSource from './lua/acquire.lua?raw';
import extendSource from './lua/extend.lua?raw';
import inspectSource from './lua/inspect.lua?raw';
import raiseSource from './lua/raise.lua?raw';
import releaseSource from './lua/release.lua?raw';

/** A Lua script run with EVALSHA, falling back to EVAL once per connection that lacks it. */
export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

function script(name: string, source: string): Script {
  return Object.freeze({ name, source, sha: createHash('sha1').update(source).digest('hex') });
}

/** The per-node scripts of Redlock (see the header of each file in `src/lua/`). */
export const scripts = Object.freeze({
  acquire: script('acquire', acquireSource),
  raise: script('raise', raiseSource),
  release: script('release', releaseSource),
  extend: script('extend', extendSource),
  inspect: script('inspect', inspectSource),
});
