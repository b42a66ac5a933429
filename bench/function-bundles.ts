/**
 * Each function's deployed bundle (built by the CDK app exactly as `cdk deploy` builds it): its size, and how long a
 * fresh Node process takes to load it (the module-load part of a cold start), against a bare `node -e 0`.
 *
 *   npx tsx bench/function-bundles.ts [runs=15]
 */
import '../local/sdk-environment.ts';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { buildApp } from '../lib/app.ts';
import { exampleProductsAllowed } from '../lib/example-products.ts';
import { cdkJsonContext } from '../local/config.ts';
import { summarize } from './stats.ts';
import { positiveIntegerArgument } from './arguments.ts';

const runs = positiveIntegerArgument('runs', 15);

interface LambdaResource {
  readonly Type: string;
  readonly Metadata?: Record<string, string>;
  readonly Properties: { Environment?: { Variables?: Record<string, unknown> } };
}

// The CDK CLI asks for asset and path metadata; they are how a function's bundle is found in the cloud assembly. The
// assembly goes to a folder of the bench's own, removed at the end (aws-cdk-lib would leave its own behind).
const outdir = mkdtempSync(join(tmpdir(), 'function-bundles-'));
process.once('exit', () => rmSync(outdir, { recursive: true, force: true }));
const assembly = buildApp(
  {
    ...cdkJsonContext(),
    ...exampleProductsAllowed,
    'aws:cdk:enable-asset-metadata': true,
    'aws:cdk:enable-path-metadata': true,
  },
  { outdir },
).app.synth();
const template = assembly.stacks[0]!.template as { Resources: Record<string, LambdaResource> };
const functions = Object.values(template.Resources).filter(
  (resource) => resource.Type === 'AWS::Lambda::Function' && resource.Metadata?.['aws:asset:path'] !== undefined,
);

/** Milliseconds of one fresh `node` process running `args`, with `env`. */
function timeNode(args: string[], env: Record<string, string>): number {
  const started = performance.now();
  execFileSync(process.execPath, args, { env: { ...process.env, ...env }, stdio: 'ignore' });
  return performance.now() - started;
}

const bare = summarize(Array.from({ length: runs }, () => timeNode(['-e', '0'], {})));
console.log(`Function bundles: size, and load time in a fresh Node ${process.version} process (${runs} runs each)`);
console.log(`  node -e 0: p50 ${bare.p50.toFixed(0)} ms`);
for (const resource of functions) {
  const name = resource.Metadata!['aws:cdk:path']!.split('/').at(-3)!;
  const bundle = join(assembly.directory, resource.Metadata!['aws:asset:path']!, 'index.mjs');
  // CloudFormation references (the table name, the bus name) become placeholders: loading reads, never calls, them.
  const env = Object.fromEntries(
    Object.entries(resource.Properties.Environment?.Variables ?? {}).map(([key, value]) => [
      key,
      typeof value === 'string' ? value : 'bench-placeholder',
    ]),
  );
  const load = summarize(
    Array.from({ length: runs }, () =>
      timeNode(['--input-type=module', '-e', `await import(${JSON.stringify(bundle)})`], env),
    ),
  );
  const size = statSync(bundle).size;
  const gzipped = gzipSync(readFileSync(bundle)).length;
  console.log(
    `  ${name.padEnd(22)} ${(size / 1024).toFixed(0).padStart(5)} KiB (${(gzipped / 1024).toFixed(0)} KiB gzipped)  ` +
      `load p50 ${load.p50.toFixed(0)} ms = node -e 0 + ${(load.p50 - bare.p50).toFixed(0)} ms (${(load.p50 / bare.p50).toFixed(2)}x)`,
  );
}
