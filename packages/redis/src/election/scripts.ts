import { decimal, defineScript, flag, integer, text, tuple } from '@dlock/redis/protocol';
import campaignLua from './lua/campaign.lua?raw';
import leaderLua from './lua/leader.lua?raw';
import proclaimLua from './lua/proclaim.lua?raw';
import renewLua from './lua/renew.lua?raw';
import resignLua from './lua/resign.lua?raw';

/** What `campaign.lua` answered: elected with a term, or the ms left on the leader's lease. */
export type CampaignReply = { readonly elected: true; readonly term: bigint } | { readonly elected: false; readonly pttl: number };

/** What `leader.lua` answered: the counter, and the leader if there is one. */
export interface LeaderReply {
  readonly version: bigint;
  readonly leader: { readonly term: bigint; readonly value: string; readonly pttl: number; readonly token: string } | null;
}

/** The typed scripts of the Redis election protocol (sources in `src/election/lua/*.lua`). */
export const electionScripts = Object.freeze({
  campaign: defineScript<
    readonly [leader: string, counter: string, token: string, ttl: number, keepCounter: number, value: string, channel: string],
    CampaignReply
  >({
    name: 'campaign',
    source: campaignLua,
    keys: 2,
    parse: (reply) => {
      const [elected, value] = tuple(reply, 2);
      return flag(elected, 'elected') ? { elected: true, term: decimal(value, 'term') } : { elected: false, pttl: integer(value, 'pttl') };
    },
  }),
  resign: defineScript<readonly [leader: string, counter: string, latch: string, token: string, keepCounter: number, channel: string, latchMs: number], boolean>({
    name: 'resign',
    source: resignLua,
    keys: 3,
    parse: (reply) => flag(reply),
  }),
  renew: defineScript<readonly [leader: string, counter: string, token: string, ttl: number, keepCounter: number], boolean>({
    name: 'renew-leadership',
    source: renewLua,
    keys: 2,
    parse: (reply) => flag(reply),
  }),
  proclaim: defineScript<readonly [leader: string, counter: string, token: string, value: string, keepCounter: number, channel: string], boolean>({
    name: 'proclaim',
    source: proclaimLua,
    keys: 2,
    parse: (reply) => flag(reply),
  }),
  leader: defineScript<readonly [leader: string, counter: string], LeaderReply>({
    name: 'leader',
    source: leaderLua,
    keys: 2,
    parse: (reply) => {
      const fields = tuple(reply, 1, 5);
      const version = decimal(fields[0], 'version');
      if (fields.length === 1) return { version, leader: null };
      return {
        version,
        leader: {
          term: decimal(fields[1], 'term'),
          value: text(fields[2], 'value'),
          pttl: integer(fields[3], 'pttl'),
          token: text(fields[4], 'token'),
        },
      };
    },
  }),
});

/** A change as the channel carries it (see the `L`/`N` messages of the scripts). */
export type ChangeMessage =
  | { readonly version: bigint; readonly leader: { readonly term: bigint; readonly value: string; readonly pttl: number } }
  | { readonly version: bigint; readonly leader: null };

/**
 * Parses `L <version> <term> <pttl> <value>` (a leader, or its new value) and `N <version>`
 * (nobody leads); `undefined` for anything else (an empty message: re-read after a reconnect).
 */
export function parseChange(message: string): ChangeMessage | undefined {
  if (message.startsWith('N ')) {
    const version = /^N (\d+)$/.exec(message);
    return version === null ? undefined : { version: BigInt(version[1]!), leader: null };
  }
  const m = /^L (\d+) (\d+) (-?\d+) ([\s\S]*)$/.exec(message);
  if (m === null) return undefined;
  return { version: BigInt(m[1]!), leader: { term: BigInt(m[2]!), pttl: Number(m[3]), value: m[4]! } };
}
