/** Where a command writes and what environment it sees (the process's, or a test's). */
export interface CliIo {
  /** Writes one line (a newline is added) to standard output. */
  out(line: string): void;
  /** Writes one line (a newline is added) to standard error. */
  err(line: string): void;
  /** The environment: `DLOCK_BACKEND`, `DLOCK_PREFIX`, and what `run` passes to its command. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The process's own streams and environment. */
export const processIo: CliIo = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
  get env() {
    return process.env;
  },
};
