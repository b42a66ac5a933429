/**
 * Busy CPU workers, to run the test suite on a loaded machine: `node --import tsx tools/cpu-load.ts [workers]` keeps
 * that many threads spinning (default: twice the CPUs) until it is stopped (Ctrl-C, SIGTERM). The suite must pass under
 * it as it does on a quiet machine, only slower (docs/testing.md).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** Plain JavaScript, evaluated by each thread: a worker cannot load this TypeScript file itself. */
const SPIN = 'for (;;) Math.sqrt(Math.random());';

const argument = process.argv[2];
const workers = argument === undefined ? 2 * availableParallelism() : Number(argument);
if (!Number.isInteger(workers) || workers < 1) {
  console.error(`Usage: node --import tsx tools/cpu-load.ts [workers]  (a whole number of threads, not "${argument}")`);
  process.exit(2);
}
const threads = Array.from({ length: workers }, () => new Worker(SPIN, { eval: true }));
console.log(`${workers} busy threads on ${availableParallelism()} CPUs; Ctrl-C stops them`);
const stop = () => void Promise.all(threads.map((thread) => thread.terminate())).then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
