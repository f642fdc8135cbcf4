import { describe, expect, it } from 'vitest';
import { newToken } from '../src/token.js';

describe('newToken', () => {
  it('hands out distinct 128-bit hex tokens across pool refills', () => {
    const tokens = Array.from({ length: 1_000 }, () => newToken());
    for (const token of tokens) expect(token).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(tokens).size).toBe(tokens.length);
  });
});
