#!/usr/bin/env node
// Checks the packages as users get them: packs every published package (`pnpm pack`, which
// turns `workspace:` ranges into versions), checks what each tarball holds, installs the
// tarballs with npm into an empty project (with the peer dependencies the backends need), and
// loads each package there with `import` (ESM) and `require` (CJS), checking a key export and
// that the TypeScript declarations resolve in both module kinds. Temp dirs are removed at the end.
//
//   node scripts/check-pack.mjs             build first (`pnpm build`), then check
//   node scripts/check-pack.mjs --no-build  check the dist/ already built (`pnpm test` does this)
//
// Needs the npm registry (or npm's cache) for the peer dependencies. Exits 1 naming each problem.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entryPoints, publishedPackages, root } from './workspace.mjs';

const started = performance.now();
const problems = [];
const temps = [];

/**
 * Key exports an entry must have, with `import` and `require`. Every entry of every published
 * package (its `exports` map) is loaded and has its types resolved whether it is listed here or
 * not; an entry without a `require` condition is checked as ESM only.
 */
const keyExports = {
  '@dlock/core': ['MemoryLock', 'LockService', 'LockManager', 'KeyedMutex', 'InvalidOptionError', 'LockLostError'],
  '@dlock/redis': ['RedisLock'],
  '@dlock/etcd': ['EtcdMutex', 'EtcdLock', 'etcdClientOptions'],
  '@dlock/redlock': ['Redlock'],
  '@dlock/postgres': ['PostgresLock', 'PostgresReadWriteLock', 'PostgresSemaphore'],
  '@dlock/testkit': ['startRedis', 'startEtcd', 'freePort'],
  '@dlock/testkit/contract': ['lockContractSuite'],
};
/** Files every tarball must hold, besides what package.json names. */
const requiredFiles = ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md'];

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  return result;
}

/** Runs a step; a non-zero exit is fatal, with the step's output. */
function must(label, command, args, options = {}) {
  const result = run(command, args, options);
  if (result.status !== 0) {
    throw new Error(`${label} failed (${command} ${args.join(' ')}, exit ${result.status}):\n${result.stdout}${result.stderr}`);
  }
  return result;
}

/** The error line of a failed program's output (Node prints the code frame first), else its start. */
function firstError(output) {
  const lines = output.trim().split('\n');
  return lines.find((line) => /^[A-Za-z]*Error\b/.test(line)) ?? lines.slice(0, 6).join('\n    ');
}

function temp(label) {
  const dir = mkdtempSync(join(tmpdir(), `dlock-${label}-`));
  temps.push(dir);
  return dir;
}

function targets(node, out = []) {
  if (typeof node === 'string') out.push(node);
  else if (node && typeof node === 'object') for (const v of Object.values(node)) targets(v, out);
  return out;
}

/** Every entry of the published packages, with the key exports it must have. */
function entriesOf(packages) {
  const entries = packages.flatMap((pkg) => entryPoints(pkg).map((entry) => ({ ...entry, functions: keyExports[entry.specifier] ?? [] })));
  for (const specifier of Object.keys(keyExports)) {
    if (!entries.some((entry) => entry.specifier === specifier)) problems.push(`${specifier}: listed in keyExports but no published package exports it`);
  }
  return entries;
}

/** The tarball's files and its package.json, read with tar. */
function readTarball(file) {
  const list = must('listing a tarball', 'tar', ['-tzf', file]).stdout.split('\n').filter(Boolean);
  const manifest = JSON.parse(must('reading a tarball', 'tar', ['-xzOf', file, 'package/package.json']).stdout);
  return { files: new Set(list.map((f) => f.replace(/^package\//, ''))), manifest };
}

function checkTarball(file, source) {
  const { files, manifest } = readTarball(file);
  const name = source.name;
  for (const f of requiredFiles) if (!files.has(f)) problems.push(`${name}: the tarball has no ${f} (add it to "files")`);
  const named = [...targets(manifest.exports), manifest.main, manifest.module, manifest.types].filter(Boolean);
  for (const t of named) {
    const rel = t.replace(/^\.\//, '');
    if (rel !== 'package.json' && !files.has(rel)) problems.push(`${name}: "${t}" is named in package.json but missing from the tarball`);
  }
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (String(range).startsWith('workspace:')) problems.push(`${name}: ${field}.${dep} is still "${range}" in the tarball`);
    }
  }
  for (const field of ['license', 'repository', 'homepage', 'bugs', 'keywords']) {
    if (manifest[field] === undefined) problems.push(`${name}: package.json has no "${field}"`);
  }
  if (manifest.publishConfig?.access !== 'public') problems.push(`${name}: publishConfig.access is not "public"`);
  if (manifest.version !== source.version) problems.push(`${name}: packed version ${manifest.version}, expected ${source.version}`);
  return files.size;
}

/** One check program per package and module kind; each prints nothing and exits 0 when fine. */
function writeChecks(project, entries) {
  const programs = [];
  for (const { specifier, functions, esmOnly } of entries) {
    const assertions = [
      `if (Object.keys(m).length === 0) throw new Error(${JSON.stringify(`${specifier}: exports nothing`)});`,
      ...functions.map((f) => `if (typeof m[${JSON.stringify(f)}] !== 'function') throw new Error(${JSON.stringify(`${specifier}: export ${f} is not a function`)} + ', got ' + typeof m[${JSON.stringify(f)}]);`),
    ].join('\n');
    const base = specifier.replace(/[@/]/g, '_');
    writeFileSync(join(project, `${base}.mjs`), `import * as m from ${JSON.stringify(specifier)};\n${assertions}\n`);
    programs.push({ label: `${specifier} (import)`, file: `${base}.mjs` });
    if (!esmOnly) {
      writeFileSync(join(project, `${base}.cjs`), `const m = require(${JSON.stringify(specifier)});\n${assertions}\n`);
      programs.push({ label: `${specifier} (require)`, file: `${base}.cjs` });
    }
  }
  // The built code works, not only loads: a lock is taken and released, a misspelt option is refused.
  const smoke = `
    const lock = new MemoryLock();
    const handle = await lock.lock('pack-check', { ttl: 1_000, waitTimeout: 100 });
    if (typeof handle.fencingToken !== 'bigint') throw new Error('fencingToken is not a bigint');
    await handle.release();
    const refused = await lock.tryLock('pack-check', { timeout: 100 }).then(() => null, (e) => e);
    if (!(refused instanceof InvalidOptionError) || !refused.message.includes('did you mean "waitTimeout"')) {
      throw new Error('a misspelt option was not refused: ' + refused);
    }
    await lock.close();`;
  writeFileSync(join(project, 'smoke.mjs'), `import { InvalidOptionError, MemoryLock } from '@dlock/core';\n${smoke}\n`);
  writeFileSync(
    join(project, 'smoke.cjs'),
    `const { InvalidOptionError, MemoryLock } = require('@dlock/core');\n(async () => {${smoke}\n})().catch((e) => { console.error(e); process.exit(1); });\n`,
  );
  programs.push({ label: '@dlock/core MemoryLock lock/release (import)', file: 'smoke.mjs' });
  programs.push({ label: '@dlock/core MemoryLock lock/release (require)', file: 'smoke.cjs' });
  // Declarations: every package's types resolve from an ES module and from a CommonJS one.
  const uses = (kind) =>
    entries
      .filter((e) => kind === 'esm' || !e.esmOnly)
      .map(({ specifier, functions }, i) =>
        kind === 'esm'
          ? `import * as m${i} from ${JSON.stringify(specifier)};\nexport const t${i} = [m${i}, ${functions.map((f) => `m${i}.${f}`).join(', ')}];`
          : `import m${i} = require(${JSON.stringify(specifier)});\nexport const t${i} = [m${i}, ${functions.map((f) => `m${i}.${f}`).join(', ')}];`,
      )
      .join('\n');
  writeFileSync(join(project, 'types.mts'), `${uses('esm')}\n`);
  writeFileSync(join(project, 'types.cts'), `${uses('cjs')}\n`);
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'esnext.disposable', 'dom'], types: ['node'], strict: true, noEmit: true, skipLibCheck: true },
      files: ['types.mts', 'types.cts'],
    }),
  );
  return programs;
}

try {
  if (!process.argv.includes('--no-build')) must('pnpm build', 'pnpm', ['build'], { cwd: root, stdio: 'inherit' });

  const packages = publishedPackages();
  const entries = entriesOf(packages);
  const packDir = temp('pack');
  must('pnpm pack', 'pnpm', ['-r', '--filter', './packages/*', 'pack', '--pack-destination', packDir], { cwd: root });
  const tarballs = [];
  for (const { manifest } of packages) {
    const expected = `${manifest.name.replace(/^@/, '').replace('/', '-')}-${manifest.version}.tgz`;
    if (!readdirSync(packDir).includes(expected)) {
      problems.push(`${manifest.name}: pnpm pack made no ${expected}`);
      continue;
    }
    const file = join(packDir, expected);
    const count = checkTarball(file, manifest);
    console.log(`packed ${manifest.name}@${manifest.version}: ${count} files`);
    tarballs.push(file);
  }
  if (problems.length > 0) throw new Error('the tarballs are incomplete');

  // Peers at the versions this repository tests with (the root and package devDependencies).
  const devVersion = (dep) => {
    for (const { manifest } of packages) if (manifest.devDependencies?.[dep]) return manifest.devDependencies[dep];
    throw new Error(`no devDependency ${dep} to take a version from`);
  };
  const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const peers = ['ioredis', 'etcd3', 'vitest'].map((dep) => `${dep}@${devVersion(dep)}`);
  peers.push(`@types/node@${rootManifest.devDependencies['@types/node']}`);

  const project = temp('project');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'dlock-pack-check', version: '0.0.0', private: true }));
  // --ignore-scripts: our packages have none, and testcontainers' optional native builds are not under test.
  must('npm install of the tarballs', 'npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--prefer-offline', '--loglevel=error', ...tarballs, ...peers], {
    cwd: project,
  });
  console.log(`installed ${tarballs.length} tarballs with ${peers.join(', ')} into an empty project`);

  for (const { label, file } of writeChecks(project, entries)) {
    const result = run(process.execPath, [file], { cwd: project });
    if (result.status === 0) console.log(`  ok  ${label}`);
    else problems.push(`${label}: ${firstError(result.stderr || result.stdout)}`);
  }
  const tsc = run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: project });
  if (tsc.status === 0) console.log('  ok  type declarations resolve from ESM (.mts) and CommonJS (.cts)');
  else problems.push(`type declarations: tsc failed:\n    ${(tsc.stdout + tsc.stderr).trim().split('\n').join('\n    ')}`);
} catch (error) {
  problems.push(error instanceof Error ? error.message : String(error));
} finally {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
}

const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (problems.length > 0) {
  console.error(`\npack check FAILED (${seconds} s):\n  - ${problems.join('\n  - ')}`);
  process.exit(1);
}
console.log(`pack check: every package packs, installs and loads with import and require (${seconds} s)`);
