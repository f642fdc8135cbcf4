import { parseArgs } from 'node:util';
import { parseBackend, backendForms, type BackendSpec } from './backend.js';
import { parseDuration } from './duration.js';
import { UsageError } from './usage-error.js';

/** The commands `dlock` knows. */
export const commands = ['run', 'inspect', 'elect', 'leader'] as const;
export type CommandName = (typeof commands)[number];

/** Defaults of `dlock run`. */
export const runDefaults = Object.freeze({
  /** Lease length; the watchdog renews it every ttl/3 while the command runs. */
  ttl: 30_000,
  /** Time between the SIGTERM and the SIGKILL sent to the command when the lock is lost. */
  grace: 10_000,
  /** Environment variable that carries the fencing token to the command. */
  fenceEnv: 'DLOCK_FENCING_TOKEN',
});

/** Where the backend and its options come from, for both commands. */
export interface BackendChoice {
  readonly backend: BackendSpec;
  readonly prefix: string | undefined;
  readonly unavailableTimeout: number | undefined;
}

/** `dlock run`, parsed. */
export interface RunInvocation extends BackendChoice {
  readonly command: 'run';
  readonly key: string;
  /** The program and its arguments (what followed `--`). */
  readonly argv: readonly [string, ...string[]];
  readonly ttl: number;
  /** `undefined`: wait as long as it takes (the backend's `unavailableTimeout` still applies). */
  readonly wait: number | undefined;
  readonly fenceEnv: string;
  readonly grace: number;
  readonly verbose: boolean;
}

/** `dlock elect`, parsed. */
export interface ElectInvocation extends BackendChoice {
  readonly command: 'elect';
  /** The election's name. */
  readonly name: string;
  /** The program and its arguments (what followed `--`). */
  readonly argv: readonly [string, ...string[]];
  /** What the leader proclaims (`undefined`: `<hostname>:<pid>`, chosen when it runs). */
  readonly value: string | undefined;
  readonly ttl: number;
  /** `undefined`: campaign as long as it takes. */
  readonly wait: number | undefined;
  /** Environment variable that gives the command the term. */
  readonly fenceEnv: string;
  readonly grace: number;
  readonly verbose: boolean;
}

/** `dlock leader`, parsed. */
export interface LeaderInvocation extends BackendChoice {
  readonly command: 'leader';
  readonly name: string;
  readonly json: boolean;
}

/** `dlock inspect`, parsed. */
export interface InspectInvocation extends BackendChoice {
  readonly command: 'inspect';
  readonly key: string;
  readonly json: boolean;
}

/** What the command line asks for. */
export type Invocation =
  | RunInvocation
  | InspectInvocation
  | ElectInvocation
  | LeaderInvocation
  | { readonly command: 'help'; readonly topic: CommandName | undefined; readonly requested: boolean }
  | { readonly command: 'version' };

type OptionSpec = { type: 'string' | 'boolean'; short?: string };

const globalOptions: Record<string, OptionSpec> = {
  backend: { type: 'string', short: 'b' },
  prefix: { type: 'string' },
  'unavailable-timeout': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
};
const commandOptions: Record<CommandName, Record<string, OptionSpec>> = {
  run: {
    ttl: { type: 'string' },
    wait: { type: 'string' },
    'fence-env': { type: 'string' },
    grace: { type: 'string' },
    verbose: { type: 'boolean' },
  },
  inspect: {
    json: { type: 'boolean' },
  },
  elect: {
    value: { type: 'string' },
    ttl: { type: 'string' },
    wait: { type: 'string' },
    'fence-env': { type: 'string' },
    grace: { type: 'string' },
    verbose: { type: 'boolean' },
  },
  leader: {
    json: { type: 'boolean' },
  },
};
const allOptions: Record<string, OptionSpec> = Object.assign({}, globalOptions, ...Object.values(commandOptions));

type Values = Record<string, string | boolean | undefined>;

/**
 * Reads the command line (`process.argv.slice(2)`) and the environment (`DLOCK_BACKEND`,
 * `DLOCK_PREFIX`; flags win). Options may come before or after the command; `run`'s command
 * follows `--`, and nothing after `--` is read as an option.
 *
 * @throws UsageError naming the mistake; nothing has connected.
 */
export function parseInvocation(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): Invocation {
  const { tokens } = parseArgs({ args: [...argv], options: allOptions, strict: false, allowPositionals: true, tokens: true });
  const terminator = tokens.find((token) => token.kind === 'option-terminator')?.index;
  const positionals: string[] = [];
  const values: Values = {};
  const seen: string[] = [];
  for (const token of tokens) {
    if (terminator !== undefined && token.index > terminator) break;
    if (token.kind === 'positional') positionals.push(token.value);
    if (token.kind !== 'option') continue;
    const spec = allOptions[token.name];
    if (spec === undefined) throw new UsageError(`unknown option ${token.rawName}`, commandIn(positionals));
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`${token.rawName} takes no value, got "${token.value}"`, commandIn(positionals));
      values[token.name] = true;
    } else {
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-') && token.value.length > 1)) {
        throw new UsageError(`${token.rawName} needs a value`, commandIn(positionals));
      }
      values[token.name] = token.value;
    }
    seen.push(token.name);
  }

  let [name, ...operands] = positionals;
  if (name === 'help') {
    const topic = operands[0];
    if (topic !== undefined && !isCommand(topic)) throw new UsageError(`no command "${topic}" (commands: ${commands.join(', ')})`);
    return { command: 'help', topic, requested: true };
  }
  if (values['help'] === true) return { command: 'help', topic: name !== undefined && isCommand(name) ? name : undefined, requested: true };
  if (values['version'] === true) return { command: 'version' };
  if (name === undefined) {
    if (terminator !== undefined) throw new UsageError('no command before "--": dlock run <key> [options] -- <command> [args...]');
    return { command: 'help', topic: undefined, requested: false };
  }
  if (!isCommand(name)) throw new UsageError(`unknown command "${name}" (commands: ${commands.join(', ')})`);

  for (const option of seen) {
    if (option in globalOptions || option in commandOptions[name]) continue;
    const owner = commands.filter((command) => option in commandOptions[command]).join(' or dlock ');
    throw new UsageError(`--${option} is an option of dlock ${owner || '?'}, not of dlock ${name}`, name);
  }

  const key = operands.shift();
  const operand = name === 'elect' || name === 'leader' ? '<name>' : '<key>';
  if (key === undefined || key === '') throw new UsageError(`dlock ${name} needs a ${operand}`, name);
  const choice = backendChoice(values, env, name);
  if ((name === 'elect' || name === 'leader') && choice.backend.kind === 'redlock') {
    throw new UsageError('elections need one Redis server (redis://), etcd (etcd://) or memory; Redlock offers a mutex only', name);
  }
  const after = terminator === undefined ? [] : argv.slice(terminator + 1);

  if (name === 'inspect' || name === 'leader') {
    if (operands.length > 0 || terminator !== undefined) {
      throw new UsageError(`dlock ${name} takes one ${operand}, got also: ${[...operands, ...(terminator === undefined ? [] : ['--', ...after])].join(' ')}`, name);
    }
    return name === 'inspect'
      ? { command: 'inspect', key, json: values['json'] === true, ...choice }
      : { command: 'leader', name: key, json: values['json'] === true, ...choice };
  }

  if (operands.length > 0) {
    throw new UsageError(`put the command after "--": dlock ${name} ${key} [options] -- ${operands.join(' ')}`, name);
  }
  const [program, ...args] = after;
  if (program === undefined || program === '') throw new UsageError(`dlock ${name} needs a command after "--"`, name);
  const fenceEnv = stringValue(values, 'fence-env') ?? runDefaults.fenceEnv;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(fenceEnv)) {
    throw new UsageError(`--fence-env must be an environment variable name (letters, digits, _), got "${fenceEnv}"`, name);
  }
  const ttl = duration(values, 'ttl', name) ?? runDefaults.ttl;
  if (ttl < 1) throw new UsageError('--ttl must be at least 1 ms', name);
  if (name === 'elect') {
    return {
      command: 'elect',
      name: key,
      argv: [program, ...args],
      value: stringValue(values, 'value'),
      ttl,
      wait: duration(values, 'wait', name),
      fenceEnv,
      grace: duration(values, 'grace', name) ?? runDefaults.grace,
      verbose: values['verbose'] === true,
      ...choice,
    };
  }
  return {
    command: 'run',
    key,
    argv: [program, ...args],
    ttl,
    wait: duration(values, 'wait', name),
    fenceEnv,
    grace: duration(values, 'grace', name) ?? runDefaults.grace,
    verbose: values['verbose'] === true,
    ...choice,
  };
}

function backendChoice(values: Values, env: Readonly<Record<string, string | undefined>>, command: CommandName): BackendChoice {
  const text = stringValue(values, 'backend') ?? nonEmpty(env['DLOCK_BACKEND']);
  if (text === undefined) throw new UsageError(`no backend: pass --backend or set DLOCK_BACKEND (${backendForms})`, command);
  let backend: BackendSpec;
  try {
    backend = parseBackend(text);
  } catch (error) {
    throw error instanceof UsageError ? new UsageError(error.message, command) : error;
  }
  return {
    backend,
    prefix: stringValue(values, 'prefix') ?? env['DLOCK_PREFIX'],
    unavailableTimeout: duration(values, 'unavailable-timeout', command),
  };
}

function isCommand(name: string): name is CommandName {
  return (commands as readonly string[]).includes(name);
}

function commandIn(positionals: readonly string[]): string | undefined {
  const first = positionals[0];
  return first !== undefined && isCommand(first) ? first : undefined;
}

function stringValue(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function duration(values: Values, name: string, command: CommandName): number | undefined {
  const value = stringValue(values, name);
  return value === undefined ? undefined : parseDuration(`--${name}`, value, command);
}
