import { InvalidOptionError } from '../errors.js';
import { rejectUnknownOptions, resolveAcquireOptions, validateSignal, type ResolvedAcquireOptions } from '../validate.js';
import type { CampaignOptions, ObserveOptions } from './types.js';

/** Longest leader value accepted, in UTF-8 bytes. */
export const MAX_VALUE_BYTES = 65_536;

/** A leader value: a well-formed string of at most {@link MAX_VALUE_BYTES} UTF-8 bytes (may be empty). */
export function validateValue(value: unknown): string {
  if (typeof value !== 'string') throw new InvalidOptionError('value', 'a string', value);
  if (!value.isWellFormed()) throw new InvalidOptionError('value', 'a well-formed UTF-16 string (no lone surrogate)', value);
  if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) {
    throw new InvalidOptionError('value', `at most ${MAX_VALUE_BYTES} UTF-8 bytes long`, value);
  }
  return value;
}

/** Campaign options after validation. */
export interface ResolvedCampaignOptions extends ResolvedAcquireOptions {
  autoRenew: boolean;
}

const campaignOptionNames: readonly string[] = ['ttl', 'waitTimeout', 'signal', 'autoRenew'];

/** Validates the options of `campaign()` and fills in the defaults. */
export function resolveCampaignOptions(options: unknown, defaultTtl: number): ResolvedCampaignOptions {
  if (options === undefined) return { ...resolveAcquireOptions(undefined, defaultTtl), autoRenew: true };
  rejectUnknownOptions(options, campaignOptionNames, 'campaign()');
  const { autoRenew, ...acquire } = options as CampaignOptions;
  if (autoRenew !== undefined && typeof autoRenew !== 'boolean') throw new InvalidOptionError('autoRenew', 'a boolean', autoRenew);
  return { ...resolveAcquireOptions(acquire, defaultTtl), autoRenew: autoRenew ?? true };
}

/** Validates the options of `observe()`: the signal, if any. */
export function resolveObserveOptions(options: unknown): AbortSignal | undefined {
  rejectUnknownOptions(options, ['signal'], 'observe()');
  return validateSignal((options as ObserveOptions | undefined)?.signal);
}
