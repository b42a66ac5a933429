/**
 * The runbook answers every alarm: in every configuration, each alarm of each stack points at an entry of
 * `docs/operations.md`, and that entry exists (a heading whose anchor is the alarm's name). Its commands work on a
 * deployed stack: each output they name (`<LifecycleQueueUrl>`) is one a stack has, and it names every function's log
 * group by its output, as the functions log to groups of generated names.
 */
import { readFile } from 'node:fs/promises';
import { Template } from 'aws-cdk-lib/assertions';
import { expect, test } from 'vitest';
import { configurationVariants, resourcesOfType, synthesize } from './synthesis.ts';

const RUNBOOK = new URL('../../docs/operations.md', import.meta.url);

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replaceAll(' ', '-');

/** Every stack's template in every configuration, synthesized once for the file's tests. */
const templates = Object.values(configurationVariants).flatMap((overrides) => {
  const { template, forwarder } = synthesize(overrides);
  return [template, ...(forwarder === undefined ? [] : [Template.fromStack(forwarder)])];
});

test('every alarm of every configuration has its entry in docs/operations.md', async () => {
  const runbook = await readFile(RUNBOOK, 'utf8');
  const anchors = new Set([...runbook.matchAll(/^#{2,6} (.+)$/gm)].map((match) => anchorOf(match[1]!)));
  const entries = new Set<string>();
  for (const each of templates) {
    for (const alarm of Object.values(resourcesOfType(each, 'AWS::CloudWatch::Alarm'))) {
      const description = String((alarm.Properties as { AlarmDescription: string }).AlarmDescription);
      const entry = /Runbook: docs\/operations\.md#([\w-]+)$/.exec(description)?.[1];
      expect(entry, description).toBeDefined();
      entries.add(entry!);
    }
  }
  expect(entries.size).toBeGreaterThan(20);
  expect([...entries].filter((entry) => !anchors.has(entry)).sort()).toEqual([]);
});

test("the runbook's commands name outputs the stacks have, and every function's log group", async () => {
  const runbook = await readFile(RUNBOOK, 'utf8');
  const outputs = new Set(templates.flatMap((each) => Object.keys(each.findOutputs('*'))));
  // An output in a command is a placeholder of its exact name: `<MeteringRunStateMachineArn>`.
  const placeholders = new Set([...runbook.matchAll(/<([A-Z]\w+(?:Url|Arn|Name))>/g)].map((match) => match[1]!));
  expect(placeholders).toContain('MeteringRunStateMachineArn');
  expect(placeholders).toContain('LifecycleQueueUrl');
  expect([...placeholders].filter((name) => !outputs.has(name)).sort()).toEqual([]);

  const logGroupOutputs = [...outputs].filter((name) => name.endsWith('LogGroupName'));
  expect(logGroupOutputs.length).toBeGreaterThanOrEqual(10);
  expect(logGroupOutputs.filter((name) => !runbook.includes(`\`${name}\``)).sort()).toEqual([]);
  expect(outputs).toContain('WebhookQueueUrl');
  expect(runbook).toContain('`WebhookQueueUrl`');
  // Lambda's default log group, which none of the functions writes to.
  expect(runbook).not.toContain('/aws/lambda/<');
});
