/**
 * A benchmark's sizes: its one optional argument or its `BENCH_*` variables, each a positive whole number, or the
 * benchmark stops before setting anything up, with what it expected (exit status 2).
 */

function positiveInteger(what: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (Number.isInteger(value) && value >= 1) return value;
  console.error(`${what} must be a positive whole number, not "${text}".`);
  process.exit(2);
}

/** A benchmark sized by `BENCH_*` variables alone (`sizes`, for the message), or by nothing: it takes no argument. */
export function noArguments(sizes = 'none'): void {
  if (process.argv.length <= 2) return;
  console.error(`Expected no argument, got ${process.argv.slice(2).join(' ')}. Sizes: ${sizes}.`);
  process.exit(2);
}

/** The benchmark's only argument, `name` in its usage line, or `fallback` when it is given none. */
export function positiveIntegerArgument(name: string, fallback: number): number {
  if (process.argv.length > 3) {
    console.error(`Expected at most one argument, [${name}=${fallback}], got ${process.argv.length - 2}.`);
    process.exit(2);
  }
  return positiveInteger(`The argument (${name})`, process.argv[2], fallback);
}

export function positiveIntegerFromEnvironment(name: string, fallback: number): number {
  return positiveInteger(name, process.env[name], fallback);
}
