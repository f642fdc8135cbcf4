import { commands, parseInvocation, type CommandName } from './args.js';
import { ExitCode } from './exit-codes.js';
import { exitCodeOf, messageOf } from './failure.js';
import { helpText, usageLine } from './help.js';
import { electCommand, leaderCommand } from './elect-command.js';
import { inspectCommand } from './inspect-command.js';
import { processIo, type CliIo } from './io.js';
import { runCommand } from './run-command.js';
import { UsageError } from './usage-error.js';
import { cliVersion } from './version.js';

/**
 * The `dlock` command: parses `argv` (without `node` and the script), runs the command and
 * resolves with the exit code once every connection is closed. Never rejects.
 *
 * @example
 * ```ts
 * process.exit(await main(process.argv.slice(2)));
 * ```
 */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let command: string | undefined;
  try {
    const invocation = parseInvocation(argv, io.env);
    command = invocation.command;
    switch (invocation.command) {
      case 'help':
        if (invocation.requested) {
          io.out(helpText(invocation.topic));
          return ExitCode.OK;
        }
        io.err(helpText(undefined));
        return ExitCode.USAGE;
      case 'version':
        io.out(cliVersion());
        return ExitCode.OK;
      case 'run':
        return await runCommand(invocation, io);
      case 'inspect':
        return await inspectCommand(invocation, io);
      case 'elect':
        return await electCommand(invocation, io);
      case 'leader':
        return await leaderCommand(invocation, io);
    }
  } catch (error) {
    io.err(`dlock: ${messageOf(error)}`);
    if (error instanceof UsageError) io.err(usageLine(known(error.command)));
    else if (exitCodeOf(error) === ExitCode.USAGE && known(command) !== undefined) io.err(usageLine(known(command)));
    return exitCodeOf(error);
  }
}

function known(command: string | undefined): CommandName | undefined {
  return (commands as readonly (string | undefined)[]).includes(command) ? (command as CommandName) : undefined;
}
