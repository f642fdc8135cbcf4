// Bad input is refused with InvalidOptionError before any I/O.
import { InvalidOptionError, type Election } from '@dlock/core';
import { describe, expect, it } from 'vitest';
import type { PrimitiveContext } from '../primitive-context.js';

/** Registers the election contract's validation tests. */
export function electionValidationTests(ctx: PrimitiveContext<Election>): void {
  describe('validation', () => {
    const { setup } = ctx;

    it('refuses bad names, values and options before any I/O', async () => {
      const { a, key } = await setup();
      const bad: Array<[unknown, unknown, unknown]> = [
        ['', 'v', undefined],
        [42, 'v', undefined],
        ['\ud800', 'v', undefined],
        [key, 42, undefined],
        [key, undefined, undefined],
        [key, 'bad \udfff', undefined],
        [key, 'x'.repeat(70_000), undefined],
        [key, 'v', { ttl: -5 }],
        [key, 'v', { ttl: 1.5 }],
        [key, 'v', { waitTimeout: -1 }],
        [key, 'v', { autoRenew: 'yes' }],
        [key, 'v', { signal: 'no' }],
        [key, 'v', { timeout: 100 }],
        [key, 'v', 'options'],
      ];
      for (const [name, value, options] of bad) {
        await expect(a.campaign(name as string, value as string, options as never)).rejects.toBeInstanceOf(InvalidOptionError);
      }
      await expect(a.leader('')).rejects.toBeInstanceOf(InvalidOptionError);
      expect(() => a.observe('')).toThrow(InvalidOptionError);
      expect(() => a.observe(key, { signal: 'no' as never })).toThrow(InvalidOptionError);
      expect(() => a.observe(key, { every: 1 } as never)).toThrow(InvalidOptionError);
      expect(() => a.autoRenew({} as never)).toThrow(InvalidOptionError);
      // Nothing was started by any of them.
      expect(await a.leader(key)).toBeNull();
    });

    it('an aborted signal rejects the campaign with its reason, without campaigning', async () => {
      const { a, key } = await setup();
      const reason = new Error('already aborted');
      await expect(a.campaign(key, 'v', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      expect(await a.leader(key)).toBeNull();
    });
  });
}
