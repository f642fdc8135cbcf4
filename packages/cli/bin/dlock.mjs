#!/usr/bin/env node
// The `dlock` command. Everything is in dist/index.js: `main` resolves with the exit code once
// the lock is closed. The process then exits as soon as stdout and stderr are flushed, even if a
// client library left a timer or socket behind.
import { main } from '../dist/index.js';

const code = await main(process.argv.slice(2));
let pending = 2;
const flushed = () => {
  pending -= 1;
  if (pending === 0) process.exit(code);
};
process.stdout.write('', flushed);
process.stderr.write('', flushed);
