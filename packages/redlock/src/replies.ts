import type { Refusal } from './quorum.js';

/** One node's answer to `acquire.lua`. */
export type AcquireReply = { readonly taken: true; readonly floor: bigint } | ({ readonly taken: false } & Refusal);

export function parseAcquireReply(raw: unknown): AcquireReply {
  if (Array.isArray(raw) && raw[0] === 1 && typeof raw[1] === 'string') return { taken: true, floor: BigInt(raw[1]) };
  if (Array.isArray(raw) && raw[0] === 0 && typeof raw[1] === 'number' && typeof raw[2] === 'string') {
    return { taken: false, pttl: raw[1], holder: raw[2] };
  }
  throw unexpected('acquire', raw);
}

/** One node's answer to `inspect.lua`: `null` when the key is free there. */
export type InspectReply = { readonly holder: string; readonly pttl: number; readonly counter: bigint } | null;

export function parseInspectReply(raw: unknown): InspectReply {
  if (Array.isArray(raw) && raw.length === 0) return null;
  if (Array.isArray(raw) && typeof raw[0] === 'string' && typeof raw[1] === 'number' && typeof raw[2] === 'string') {
    return { holder: raw[0], pttl: raw[1], counter: BigInt(raw[2]) };
  }
  throw unexpected('inspect', raw);
}

/** `1` / `0` from the owner-checked scripts. */
export function parseFlag(raw: unknown): boolean {
  if (raw === 1 || raw === 0) return raw === 1;
  throw unexpected('an owner-checked script', raw);
}

function unexpected(script: string, raw: unknown): Error {
  return new Error(`unexpected reply to ${script}: ${JSON.stringify(raw)}`);
}
