/**
 * A benchmark's sizes: its one optional argument or its `BENCH_*` variables, each a positive whole number, or the
 * benchmark stops before setting anything up, with what it expected (exit status 2).
 */
import { relative } from 'node:path';

function positiveInteger(what: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (Number.isInteger(value) && value >= 1) return value;
  console.error(`${what} must be a positive whole number, not "${text}".`);
  process.exit(2);
}

/** `--help` (or `-h`) alone: the usage line, and exit 0 before anything is set up. */
function helpIfAsked(usage: string): void {
  if (process.argv.length !== 3 || !['--help', '-h'].includes(process.argv[2]!)) return;
  console.log(`usage: node --import tsx ${relative(process.cwd(), process.argv[1]!)} ${usage} (docs/benchmarks.md)`);
  process.exit(0);
}

/** A benchmark sized by `BENCH_*` variables alone (`sizes`, for the message), or by nothing: it takes no argument. */
export function noArguments(sizes = 'none'): void {
  if (process.argv.length <= 2) return;
  helpIfAsked(`(no argument; sizes: ${sizes})`);
  console.error(`Expected no argument, got ${process.argv.slice(2).join(' ')}. Sizes: ${sizes}.`);
  process.exit(2);
}

/** The benchmark's only argument, `name` in its usage line, or `fallback` when it is given none. */
export function positiveIntegerArgument(name: string, fallback: number): number {
  helpIfAsked(`[${name}=${fallback}]`);
  if (process.argv.length > 3) {
    console.error(`Expected at most one argument, [${name}=${fallback}], got ${process.argv.length - 2}.`);
    process.exit(2);
  }
  return positiveInteger(`The argument (${name})`, process.argv[2], fallback);
}

export function positiveIntegerFromEnvironment(name: string, fallback: number): number {
  return positiveInteger(name, process.env[name], fallback);
}
