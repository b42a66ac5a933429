/**
 * Every output a deploy prints is in the deploying guide's table of outputs (`docs/deploying.md`, "Where the outputs
 * go"), by its exact name, in every configuration: a seller looks each one up there.
 */
import { readFile } from 'node:fs/promises';
import { Template } from 'aws-cdk-lib/assertions';
import { expect, test } from 'vitest';
import { configurationVariants, synthesize } from './synthesis.ts';

const GUIDE = new URL('../../docs/deploying.md', import.meta.url);

test('every output of every configuration is named in the table of outputs', async () => {
  const guide = await readFile(GUIDE, 'utf8');
  const section = guide.slice(guide.indexOf('## 5. Where the outputs go'), guide.indexOf('## 6.'));
  const documented = new Set([...section.matchAll(/`(\w+)`/g)].map((match) => match[1]!));
  const outputs = new Set<string>();
  for (const overrides of Object.values(configurationVariants)) {
    const { template, forwarder } = synthesize(overrides);
    for (const each of [template, ...(forwarder === undefined ? [] : [Template.fromStack(forwarder)])]) {
      for (const name of Object.keys(each.findOutputs('*'))) outputs.add(name);
    }
  }
  expect(outputs.size).toBeGreaterThan(15);
  // CDK names the API's own endpoint output with a hash; the guide names its prefix. The functions' log groups, one
  // output each, are named by their suffix (the runbook lists each: runbook.test.ts).
  const named = (name: string) =>
    documented.has(name) ||
    (name.startsWith('ApiRestApiEndpoint') && section.includes('`ApiRestApiEndpoint…`')) ||
    (name.endsWith('LogGroupName') && section.includes('`…LogGroupName`'));
  expect([...outputs].filter((name) => !named(name)).sort()).toEqual([]);
});
