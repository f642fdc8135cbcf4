#!/usr/bin/env node
// The `dlock` command. Everything is in dist/index.js (`main` resolves with the exit code once
// the lock is closed); exiting explicitly ends the process even if a client left a timer behind.
import { main } from '../dist/index.js';

process.exit(await main(process.argv.slice(2)));
