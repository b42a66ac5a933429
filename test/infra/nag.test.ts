import { App, Stack, Validations, type PolicyViolation } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, test } from 'vitest';
import { buildApp } from '../../lib/app.ts';
import { cdkJsonContext } from '../../local/config.ts';

interface RecordedAcknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

/** The AwsSolutions findings under scope that no acknowledgement covers. */
function awsSolutionsFindings(scope: IConstruct): PolicyViolation[] {
  return new AwsSolutionsChecks().validateScope(scope).violations;
}

function errorsAmong(findings: readonly PolicyViolation[]): PolicyViolation[] {
  return findings.filter((finding) => finding.severity === 'error');
}

function describeFindings(findings: readonly PolicyViolation[]): string {
  return findings
    .map((finding) => {
      const paths = finding.violatingResources.map((resource) => resource.constructPath).join(', ');
      return `${finding.severity} ${finding.ruleName}: ${finding.description} (${paths})`;
    })
    .join('\n');
}

/** Every `Validations.of(construct).acknowledge(...)` under scope, read back from construct metadata. */
function acknowledgementsUnder(scope: IConstruct): RecordedAcknowledgement[] {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
      .map(([id, reason]) => ({ path: construct.node.path, id, reason })),
  );
}

describe('the app that cdk synth builds', () => {
  const { app } = buildApp(cdkJsonContext());

  test('has no unacknowledged error-level AwsSolutions finding', () => {
    const findings = awsSolutionsFindings(app);
    if (findings.length > 0) console.warn(`AwsSolutions findings:\n${describeFindings(findings)}`);
    expect(errorsAmong(findings), describeFindings(findings)).toEqual([]);
  });

  test('gives every acknowledgement a specific reason and the plain rule id', () => {
    for (const acknowledgement of acknowledgementsUnder(app)) {
      const where = `${acknowledgement.id} on ${acknowledgement.path}`;
      expect(acknowledgement.reason.trim().length, where).toBeGreaterThanOrEqual(20);
      // `cdk synth` honours both `AwsSolutions-X` and `AwsSolutions::AwsSolutions-X`, but cdk-nag's validateScope
      // (what this file runs) only the plain form, which CDK records as `Annotation::AwsSolutions-X`.
      expect(acknowledgement.id, where).toMatch(/^Annotation::AwsSolutions-/);
    }
  });

  test('runs the AwsSolutions checks on synthesis and refuses an error-level finding', () => {
    const { app: probedApp, stack } = buildApp(cdkJsonContext());
    new Queue(stack, 'QueueWithoutDeadLetterQueue');
    expect(() => probedApp.synth()).toThrow(/AwsSolutions-SQS3/);
  });
});

describe('the checks themselves', () => {
  function throwawayStackWithBareQueue() {
    const app = new App();
    const stack = new Stack(app, 'Throwaway');
    const queue = new Queue(stack, 'QueueWithoutDeadLetterQueue');
    return { app, queue };
  }

  test('report an error for a deliberately non-compliant resource', () => {
    const { app } = throwawayStackWithBareQueue();
    const errors = errorsAmong(awsSolutionsFindings(app));
    expect(errors.map((finding) => finding.ruleName)).toContain('AwsSolutions-SQS3');
    expect(describeFindings(errors)).toContain('Throwaway/QueueWithoutDeadLetterQueue/Resource');
  });

  test('drop an acknowledged finding and let the acknowledgement be read back', () => {
    const { app, queue } = throwawayStackWithBareQueue();
    const reason = 'This throwaway queue exists only to exercise the acknowledgement path.';
    Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason });

    const ruleNames = errorsAmong(awsSolutionsFindings(app)).map((finding) => finding.ruleName);
    expect(ruleNames).not.toContain('AwsSolutions-SQS3');
    expect(ruleNames).toContain('AwsSolutions-SQS4');
    expect(acknowledgementsUnder(app)).toEqual([
      { path: 'Throwaway/QueueWithoutDeadLetterQueue', id: 'Annotation::AwsSolutions-SQS3', reason },
    ]);
  });
});
