/**
 * A mistake on the command line (unknown option, bad value, unknown backend): reported with
 * the command's usage line and exit code 2, before anything connects.
 */
export class UsageError extends Error {
  /** The command whose help the message points at (`run`, `inspect`), if known. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}
