import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { STACK_ID } from '../../lib/app.ts';
import { tableDefinitions } from '../../lib/tables.ts';
import { projectRoot } from '../../local/config.ts';

interface SynthRun {
  readonly exitCode: number | null;
  readonly stderr: string;
  readonly outputDir: string;
}

interface SynthesizedTemplate {
  readonly Resources: Record<string, { Type: string; Metadata?: Record<string, unknown> }>;
}

const outputDirs: string[] = [];

/** A seller's shell with no AWS account: synth must never need credentials, a profile or a region. */
function environmentWithoutAws(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
}

async function cdkSynth(...extraArgs: string[]): Promise<SynthRun> {
  const outputDir = await mkdtemp(join(tmpdir(), 'saas-marketplace-synth-'));
  outputDirs.push(outputDir);
  const child = spawn('npx', ['cdk', 'synth', '--no-notices', '--quiet', '-o', outputDir, ...extraArgs], {
    cwd: projectRoot,
    env: environmentWithoutAws(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  return { exitCode, stderr, outputDir };
}

afterAll(async () => {
  await Promise.all(outputDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe.concurrent('npx cdk synth, run as a seller would', () => {
  // Each run takes about 5 s; the infra project's 120 s test timeout leaves room for a slow, cold machine.
  test('succeeds without AWS credentials and writes a template with both tables', async () => {
    const run = await cdkSynth();
    expect(run.exitCode, run.stderr).toBe(0);

    const templateFile = join(run.outputDir, `${STACK_ID}.template.json`);
    const template = JSON.parse(await readFile(templateFile, 'utf8')) as SynthesizedTemplate;
    const tablePaths = Object.values(template.Resources)
      .filter((resource) => resource.Type === 'AWS::DynamoDB::GlobalTable')
      .map((resource) => resource.Metadata?.['aws:cdk:path']);
    expect(tablePaths.sort()).toEqual(
      tableDefinitions.map((definition) => `${STACK_ID}/Storage/${definition.id}/Resource`).sort(),
    );
  });

  test('fails on a bad configuration value, naming the field, without a stack trace', async () => {
    const run = await cdkSynth('-c', 'marketplace.products.0.code=bad!code');
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toContain('marketplace.products[0].code');
    expect(run.stderr).not.toMatch(/^ {4}at /m);
  });
});
