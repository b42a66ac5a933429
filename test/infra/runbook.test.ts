/**
 * The runbook answers every alarm: in every configuration, each alarm of each stack points at an entry of
 * `docs/operations.md`, and that entry exists (a heading whose anchor is the alarm's name).
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

test('every alarm of every configuration has its entry in docs/operations.md', async () => {
  const runbook = await readFile(RUNBOOK, 'utf8');
  const anchors = new Set([...runbook.matchAll(/^#{2,6} (.+)$/gm)].map((match) => anchorOf(match[1]!)));
  const entries = new Set<string>();
  for (const overrides of Object.values(configurationVariants)) {
    const { template, forwarder } = synthesize(overrides);
    const templates = [template, ...(forwarder === undefined ? [] : [Template.fromStack(forwarder)])];
    for (const each of templates) {
      for (const alarm of Object.values(resourcesOfType(each, 'AWS::CloudWatch::Alarm'))) {
        const description = String((alarm.Properties as { AlarmDescription: string }).AlarmDescription);
        const entry = /Runbook: docs\/operations\.md#([\w-]+)$/.exec(description)?.[1];
        expect(entry, description).toBeDefined();
        entries.add(entry!);
      }
    }
  }
  expect(entries.size).toBeGreaterThan(20);
  expect([...entries].filter((entry) => !anchors.has(entry)).sort()).toEqual([]);
});
