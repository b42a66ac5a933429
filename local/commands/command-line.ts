/**
 * What the operator commands share about their command line: options parsed strictly, one convention for the end:
 * exit status 0 when done, 1 when something the command needs failed (one line on stderr says what, and what to set
 * when the AWS environment lacks a region or credentials), 2 when the command line cannot be run (the line says what
 * is wrong, then the usage line); and a quiet end when the reader of its output goes away.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { messageOf } from '../../lambdas/core/errors.ts';
import { LocalStackError } from '../errors.ts';

/** The command line cannot be run: exit status 2. */
export class ArgumentError extends LocalStackError {
  override readonly name = 'ArgumentError';
}

/** `--help` or `-h`: the usage line, and exit status 0. */
class HelpRequestError extends LocalStackError {
  override readonly name = 'HelpRequestError';
}

/** Something the command needs failed: exit status 1. */
export class CommandFailureError extends LocalStackError {
  override readonly name = 'CommandFailureError';
}

// A reader that stops early (`npm run meter | head`) closes the pipe: stop quietly then, as Unix tools do, rather than
// with an EPIPE stack trace. Every command imports this module, so every command behaves so.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `parseArgs`, strict, with what it refuses (an unknown option, a missing value) as an {@link ArgumentError}; and an
 * option npm took for its own refused too (`npmTookOption`). `--help` (`-h`) anywhere asks for the usage line alone.
 */
export function parseCommandLine<T extends Options>(args: readonly string[], options: T, allowPositionals = false) {
  refuseOptionsNpmTook(options, args);
  if (args.some((arg) => arg === '--help' || arg === '-h')) throw new HelpRequestError('usage');
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals, tokens: true });
  } catch (error) {
    // With positionals allowed, parseArgs adds advice for `node` ("after '--'") that npm's own `--` makes wrong.
    throw new ArgumentError(messageOf(error).replace(/\. To specify a positional argument.*$/s, ''), { cause: error });
  }
  refuseRepeatedValues(options, parsed.tokens);
  return parsed;
}

function refuseOptionsNpmTook(options: Options, args: readonly string[]): void {
  // Written before `--` to a command that has no dry run, it would do for real what was meant as a preview.
  if (options['dry-run'] === undefined && npmTookOption('dry-run')) {
    throw new ArgumentError(
      `npm took --dry-run for its own option, and npm run ${process.env['npm_lifecycle_event']} has none: it would ` +
        'have run for real. Run it without --dry-run',
    );
  }
  for (const [name, { short, type }] of Object.entries(options)) {
    // npm takes an option it does not know as a flag, and hands the value after it to the command.
    const handedOver = type === 'string' && args[0]?.startsWith('-') === false ? args[0] : undefined;
    if (npmTookOption(name)) refuseTaken(`--${name}`, name, '', handedOver);
    const npmName = short === undefined ? undefined : NPM_SHORT_OPTIONS[short];
    if (npmName !== undefined && npmTookOption(npmName)) refuseTaken(`-${short}`, npmName, ` (its --${npmName})`);
  }
}

/**
 * npm's own short options among the letters the commands use, by npm's long name: `npm run preflight -c key=value`
 * gives npm a `--call` it keeps as `npm_config_call`, and preflight would check another configuration than the one
 * deployed.
 */
const NPM_SHORT_OPTIONS: Readonly<Record<string, string>> = { c: 'call' };

function refuseTaken(option: string, npmName: string, alias = '', handedOver?: string): never {
  const value = process.env[npmVariableOf(npmName)];
  const given = value !== 'true' ? `${option} ${value}` : handedOver === undefined ? option : `${option} ${handedOver}`;
  throw new ArgumentError(
    `npm took ${option} for its own option${alias}, so the command never saw it: put it after --, as in ` +
      `npm run ${process.env['npm_lifecycle_event']} -- ${given}`,
  );
}

/** An option of one value given twice: which one was meant cannot be told (parseArgs would keep the last). */
function refuseRepeatedValues(options: Options, tokens: readonly { kind: string; name?: string }[]): void {
  const names = tokens.flatMap((token) => (token.kind === 'option' && token.name !== undefined ? [token.name] : []));
  const repeated = names.find(
    (name, index) =>
      options[name]?.type === 'string' && options[name].multiple !== true && names.indexOf(name) !== index,
  );
  if (repeated !== undefined) throw new ArgumentError(`--${repeated} is given more than once`);
}

/**
 * Whether npm kept `--<name>` as its own setting (`npm run meter --dry-run`, with no `--` before it): npm passes it to
 * the script only as `npm_config_<name>`, so the command would run without it, a dry run billing for real.
 */
function npmTookOption(name: string): boolean {
  return process.env['npm_lifecycle_event'] !== undefined && process.env[npmVariableOf(name)] !== undefined;
}

const npmVariableOf = (name: string) => `npm_config_${name.replace(/-/g, '_')}`;

/** Runs a command's `main` (which answers its exit status) and ends the process by the convention above. */
export function runCommand(name: string, usage: string, main: (args: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (status) => {
      process.exitCode = status;
    },
    (error: unknown) => {
      if (error instanceof HelpRequestError) {
        console.log(`usage: ${usage}`);
        process.exitCode = 0;
      } else if (error instanceof ArgumentError) {
        console.error(`npm run ${name}: ${error.message}\nusage: ${usage}`);
        process.exitCode = 2;
      } else {
        const fix = awsEnvironmentFix(error);
        const message = messageOf(error);
        console.error(`npm run ${name}: ${fix === undefined ? message : `${endSentence(message)} ${fix}`}`);
        process.exitCode = 1;
      }
    },
  );
}

/** The SDK found no credentials (`CredentialsProviderError`), or none it could use (an expired SSO session). */
export function isMissingCredentials(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'CredentialsProviderError' ||
    error.name === 'TokenProviderError' ||
    /could not load credentials/i.test(error.message)
  );
}

/** The SDK had no region to call AWS in: none set (`Region is missing`), or an empty `AWS_REGION`. */
function isMissingRegion(error: unknown): boolean {
  return error instanceof Error && /^Region is missing|^Region not accepted: region="" /.test(error.message);
}

/**
 * What to set when an error, or one of its causes, says the AWS environment of a command run against AWS lacks a
 * region or credentials: the SDK's own words name neither variable nor command.
 */
function awsEnvironmentFix(error: unknown): string | undefined {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (isMissingRegion(cause)) {
      return (
        `No AWS region. ${regionSource()}Set AWS_REGION to the stack's region, or AWS_PROFILE to a profile that has one ` +
        '(aws configure set region <region> --profile <profile>)'
      );
    }
    if (isMissingCredentials(cause)) {
      return (
        `No usable AWS credentials. ${profileInUse()}Set AWS_PROFILE to a profile of the seller account (made with ` +
        'aws configure, or aws configure sso; sign in again with aws sso login --profile <profile> when its session expired), or ' +
        'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)'
      );
    }
  }
  return undefined;
}

/**
 * Which profile gave no credentials (or no region), when `AWS_PROFILE` names one: the SDK's words do not say, and a
 * profile name mistyped or missing from this machine's files looks like no profile.
 */
export function profileInUse(): string {
  const profile = process.env['AWS_PROFILE'];
  return profile
    ? `AWS_PROFILE names the profile ${JSON.stringify(profile)}, which gave none (aws configure list-profiles lists ` +
        "this machine's). "
    : '';
}

/** Why there is no region: an empty `AWS_REGION` hides any profile's region; otherwise the profile named gave none. */
function regionSource(): string {
  return process.env['AWS_REGION'] === ''
    ? "AWS_REGION is set, but empty (it hides any profile's region). "
    : profileInUse();
}

/** `1 message`, `2 messages`: the count with the word that goes with it. */
export function counted(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** `text` ended with a full stop, unless it ends a sentence already (the SDK's messages mostly do). */
export function endSentence(text: string): string {
  const trimmed = text.trimEnd();
  return /[.!?]\)?$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

/** Rows under a header, each column as wide as its widest cell; the columns `rightAligned` names are numbers. */
export function alignedTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  rightAligned: ReadonlySet<number> = new Set(),
): string[] {
  const lines = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...lines.map((line) => line[column]?.length ?? 0)));
  return lines.map((line) =>
    line
      .map((cell, column) =>
        rightAligned.has(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd(),
  );
}
