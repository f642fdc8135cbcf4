import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { onExitSync } from './process.js';

const dirs = new Set<string>();
let hooked = false;

function removeAllSync(): void {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  dirs.clear();
}

/** Creates `<tmpdir>/dlock-<kind>-XXXXXX`, removed at process exit if nobody removed it before. */
export function makeDataDir(kind: string): string {
  if (!hooked) {
    hooked = true;
    onExitSync(removeAllSync);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), `dlock-${kind}-`));
  dirs.add(dir);
  return dir;
}

/** Empties a data directory, keeping the directory itself. */
export async function wipeDataDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  await mkdir(dir, { recursive: true });
}

/** Removes a data directory for good. */
export async function removeDataDir(dir: string): Promise<void> {
  dirs.delete(dir);
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
