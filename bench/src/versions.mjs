// Machine and software versions for the report: CPU, cores, memory, load, node, servers, and
// every library the bench loads (read from the installed package.json files).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { workspacePackages } from '../../scripts/workspace.mjs';

const benchDir = fileURLToPath(new URL('..', import.meta.url));

/** The installed version of a dependency of the bench (aliases like `redlock4` included). */
export function installedVersion(name) {
  try {
    const pkg = JSON.parse(readFileSync(`${benchDir}node_modules/${name}/package.json`, 'utf8'));
    return String(pkg.version).replace(/^v/, '');
  } catch {
    return 'not installed';
  }
}

/** The workspace's packages that the bench depends on (its package.json), in folder order. */
const benchDependencies = JSON.parse(readFileSync(`${benchDir}package.json`, 'utf8')).dependencies ?? {};
const dlockPackages = workspacePackages()
  .map((pkg) => pkg.name)
  .filter((name) => name in benchDependencies);

export const libraries = [
  ...dlockPackages,
  'ioredis',
  'etcd3',
  'pg',
  'redlock4',
  'redlock5',
  '@sesamecare-oss/redlock',
  'redis-semaphore',
  'redlock-universal',
];

export function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
    node: process.version,
  };
}

export function libraryVersions() {
  return Object.fromEntries(
    libraries.map((name) => [name === 'redlock4' || name === 'redlock5' ? `redlock (${name})` : name, installedVersion(name)]),
  );
}
