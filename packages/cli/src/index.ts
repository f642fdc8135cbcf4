// `@dlock/cli`: the `dlock` command (bin/dlock.mjs), and the pieces it is made of for programs
// that want to start it in-process or reuse its backend syntax.
export { main } from './main.js';
export { ExitCode, signalExitCode } from './exit-codes.js';
export { UsageError } from './usage-error.js';
export { parseBackend, describeBackend, openBackend, openElection, backendForms, type BackendSpec, type OpenOptions } from './backend.js';
export {
  parseInvocation,
  runDefaults,
  commands,
  type BackendChoice,
  type CommandName,
  type ElectInvocation,
  type LeaderInvocation,
  type InspectInvocation,
  type Invocation,
  type RunInvocation,
} from './args.js';
export { parseDuration } from './duration.js';
export { processIo, type CliIo } from './io.js';
