import { readFileSync } from 'node:fs';
import { expect } from 'vitest';

/**
 * Reads the worker fixture's file and checks that the runs never overlapped: every "start <id>"
 * is followed by its own "end <id>" before the next start. Returns the fencing tokens in order.
 */
export function tokensOfSerialRuns(file: string, runs: number): bigint[] {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  expect(lines).toHaveLength(runs * 2);
  const tokens: bigint[] = [];
  for (let i = 0; i < lines.length; i += 2) {
    const [kind, id, token] = lines[i]!.split(' ');
    expect(kind, lines.join('\n')).toBe('start');
    expect(lines[i + 1], lines.join('\n')).toBe(`end ${id}`);
    tokens.push(BigInt(token!));
  }
  return tokens;
}

/** Strictly increasing. */
export function expectIncreasing(tokens: readonly bigint[]): void {
  for (let i = 1; i < tokens.length; i++) expect(tokens[i]! > tokens[i - 1]!, `tokens ${tokens.join(', ')}`).toBe(true);
}
