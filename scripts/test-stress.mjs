#!/usr/bin/env node
// Runs `pnpm test` while busy-loop processes keep the CPU cores occupied, to catch timing
// assertions that only hold on an idle machine.
//
//   pnpm test:stress                           # 2 busy loops, one `pnpm test`
//   pnpm test:stress --repeat 3                # up to 3 runs, stops at the first failure
//   pnpm test:stress --loops 4 -- -t Redlock   # args after the flags go to `pnpm test`
//
// Prints each run's wall time and exits with the (first failing) `pnpm test` exit code.
// The busy loops are killed on every exit path, including SIGINT/SIGTERM; should this script
// itself be killed with SIGKILL, each loop notices it was orphaned and exits on its own.
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

const args = process.argv.slice(2);
const options = { loops: 2, repeat: 1 };
while (args.length > 0 && /^--(loops|repeat)$/.test(args[0])) {
  const name = args.shift().slice(2);
  const value = Number(args.shift());
  if (!Number.isInteger(value) || value < (name === 'loops' ? 0 : 1)) {
    console.error(`test:stress: --${name} needs a whole number (${name === 'loops' ? '>= 0' : '>= 1'})`);
    process.exit(2);
  }
  options[name] = value;
}
if (args[0] === '--') args.shift();

// A busy loop that spins until its parent goes away (ppid changes) or 6 hours pass.
// `process.ppid` is re-read from the OS on each access; checking every 2^24 turns costs nothing.
const busy = `
  const parent = process.ppid, end = Date.now() + 6 * 3600e3;
  for (let i = 1; ; i++) if ((i & 0xffffff) === 0 && (process.ppid !== parent || Date.now() > end)) break;
`;
const loops = Array.from({ length: options.loops }, () =>
  spawn(process.execPath, ['-e', busy], { stdio: 'ignore' }),
);
const killLoops = () => {
  for (const loop of loops) if (loop.exitCode === null && loop.signalCode === null) loop.kill('SIGKILL');
};

// Each `pnpm test` runs in its own process group (detached), so a signal reaches everything
// it started (tsup, vitest and its workers, the redis/etcd servers the tests spawn), not only
// pnpm, whose grandchildren would otherwise outlive it.
let group; // pid (= process group id) of the current run
const signalGroup = (signal) => {
  try {
    process.kill(-group, signal);
    return true;
  } catch {
    return false; // the group is empty
  }
};
process.on('exit', () => {
  killLoops(); // every exit path, whatever the code
  if (group) signalGroup('SIGKILL');
});

const exitCodeOf = (signal) => 128 + ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal] ?? 1);
let stopping = null;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killLoops();
    if (!group) process.exit(exitCodeOf(signal));
    // First signal: ask the run to stop (vitest stops its servers); a second one: kill it.
    signalGroup(stopping ? 'SIGKILL' : signal);
    stopping = signal;
  });
}

console.log(
  `test:stress: ${options.loops} busy loop(s) on ${cpus().length} core(s), ` +
    `up to ${options.repeat} run(s) of: pnpm test ${args.join(' ')}`,
);
const walls = [];
let code = 0;
for (let run = 1; run <= options.repeat && code === 0 && !stopping; run++) {
  const start = performance.now();
  code = await new Promise((resolve) => {
    const child = spawn('pnpm', ['test', ...args], { stdio: 'inherit', detached: true });
    group = child.pid;
    child.on('error', (error) => {
      console.error(`test:stress: cannot start pnpm: ${error.message}`);
      resolve(127);
    });
    child.on('exit', (exitCode, signal) => resolve(exitCode ?? exitCodeOf(signal)));
  });
  // After an interrupted run, give what is left of the group 10 s to stop, then kill it.
  for (let i = 0; stopping && i < 100 && signalGroup(0); i++) await sleep(100);
  signalGroup('SIGKILL');
  group = undefined;
  const seconds = ((performance.now() - start) / 1000).toFixed(1);
  walls.push(`${seconds} s`);
  console.log(`test:stress: run ${run}/${options.repeat} ${code === 0 ? 'passed' : `FAILED (exit ${code})`} in ${seconds} s`);
}
if (stopping && code === 0) code = exitCodeOf(stopping);
console.log(`test:stress: ${walls.length} run(s), wall times: ${walls.join(', ')}; exit ${code}`);
process.exit(code);
