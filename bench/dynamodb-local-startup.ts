/**
 * How long DynamoDB Local takes from launch to its first answered ListTables, with the launcher's fast-start JVM
 * flags and with the JVM's defaults. Usage: npx tsx bench/dynamodb-local-startup.ts [runs per variant, default 5]
 */
import '../local/sdk-environment.ts';
import { fastStartJvmFlags, startDynamoDbLocal } from '../local/dynamodb/launcher.ts';
import { summarize, type Summary } from './stats.ts';
import { positiveIntegerArgument } from './arguments.ts';

const runs = positiveIntegerArgument('runs', 5);

async function timeOneStart(jvmFlags: readonly string[]): Promise<number> {
  const startedAt = performance.now();
  const dynamoDb = await startDynamoDbLocal({ jvmFlags });
  const elapsed = performance.now() - startedAt;
  await dynamoDb.stop();
  return elapsed;
}

function row(label: string, summary: Summary): string {
  const figures = [summary.p50, summary.min, summary.max].map((ms) => Math.round(ms).toString().padStart(8));
  return `${label.padEnd(44)}${figures.join('')}`;
}

// One unmeasured start first, so that reading the jar from a cold page cache is not billed to either variant.
await timeOneStart(fastStartJvmFlags);

// Interleaved, so that a machine that slows down or speeds up during the run affects both variants alike.
const fastTimings: number[] = [];
const defaultTimings: number[] = [];
for (let run = 0; run < runs; run++) {
  fastTimings.push(await timeOneStart(fastStartJvmFlags));
  defaultTimings.push(await timeOneStart([]));
}

const fast = summarize(fastTimings);
const defaults = summarize(defaultTimings);
console.log(`DynamoDB Local, in memory: launch to first answered ListTables, ${runs} runs each, ms`);
console.log(`${'JVM flags'.padEnd(44)}${'p50'.padStart(8)}${'min'.padStart(8)}${'max'.padStart(8)}`);
console.log(row(fastStartJvmFlags.join(' '), fast));
console.log(row('JVM defaults', defaults));
console.log(`p50 with fast-start flags / with JVM defaults: ${(fast.p50 / defaults.p50).toFixed(2)}`);
