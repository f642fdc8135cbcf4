import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import type { ContainerRuntimeClient } from 'testcontainers';

/** Where servers run: local binaries, or containers through testcontainers. */
export type ServerMode = 'local' | 'docker';

const installHints = {
  'redis-server': 'apt-get install redis-server',
  etcd: 'apt-get install etcd-server etcd-client',
} as const;

/** The binaries the local mode needs. */
export type ServerBinary = keyof typeof installHints;

let runtime: Promise<ContainerRuntimeClient | undefined> | undefined;

/**
 * The container runtime client, or undefined when no engine answers. Cached: without an engine
 * testcontainers rejects within milliseconds, and with one the handshake is worth doing once.
 * testcontainers is imported lazily so the local mode never loads it.
 */
export function containerRuntime(): Promise<ContainerRuntimeClient | undefined> {
  runtime ??= import('testcontainers')
    .then(({ getContainerRuntimeClient }) => getContainerRuntimeClient())
    .catch(() => undefined);
  return runtime;
}

function requestedMode(): 'auto' | 'local' | 'docker' {
  const raw = (process.env['DLOCK_TEST_SERVERS'] ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'auto') return 'auto';
  if (raw === 'local' || raw === 'docker') return raw;
  throw new Error(`DLOCK_TEST_SERVERS must be auto, local or docker, got ${JSON.stringify(process.env['DLOCK_TEST_SERVERS'])}`);
}

/**
 * Resolves `DLOCK_TEST_SERVERS` (auto | local | docker, default auto). `auto` uses Docker when an
 * engine answers and local binaries otherwise; `local` never touches Docker; `docker` fails
 * when no engine answers.
 */
export async function serverMode(): Promise<ServerMode> {
  const requested = requestedMode();
  if (requested === 'local') return 'local';
  const client = await containerRuntime();
  if (client !== undefined) return 'docker';
  if (requested === 'docker') {
    throw new Error(
      'DLOCK_TEST_SERVERS=docker but no container engine answers: start Docker (or another engine testcontainers supports), ' +
        'or use DLOCK_TEST_SERVERS=local with redis-server and etcd installed',
    );
  }
  return 'local';
}

/** The absolute path of `name` on PATH, or undefined. */
export function findBinary(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The path of a server binary for the local mode; throws saying how to install it when missing. */
export function requireBinary(name: ServerBinary): string {
  const found = findBinary(name);
  if (found !== undefined) return found;
  const dockerHint =
    requestedMode() === 'local' ? 'or start Docker and unset DLOCK_TEST_SERVERS (or set it to auto)' : 'or start Docker';
  throw new Error(
    `dlock test servers: neither a container engine nor ${name} is available. ` +
      `Install it with \`${installHints[name]}\` (the tests need redis-server and etcd: ` +
      `\`apt-get install redis-server etcd-server etcd-client\`), ${dockerHint}.`,
  );
}
