import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const demo = fileURLToPath(new URL('../src/demo.mjs', import.meta.url));

describe('device-registration demo (pnpm demo)', () => {
  it('creates exactly one system record under the lock, duplicates without it', async () => {
    const { stdout } = await run(process.execPath, [demo], { timeout: 30_000 });
    const counts = [...stdout.matchAll(/^(.+?)\s+system records:\s+(\d+)\s+machines registered: (\d+)/gm)].map((m) => ({
      label: m[1]!.trim(),
      systems: Number(m[2]),
      machines: Number(m[3]),
    }));
    expect(counts).toHaveLength(2);
    expect(counts[0]!.label).toBe('no lock');
    expect(counts[0]!.systems).toBeGreaterThan(1);
    expect(counts[1]).toEqual({ label: 'dlock MemoryLock', systems: 1, machines: 50 });
  });
});
