import { App, Stack, Validations, type PolicyViolation } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, ServerlessChecks, type NagPack } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, test } from 'vitest';
import { buildApp } from '../../lib/app.ts';
import { configurationVariants, exampleContext, logicalIdOf, projectFunction, synthesize } from './synthesis.ts';

interface RecordedAcknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

/** The rule packs the app runs (`lib/app.ts`), each made afresh: a pack keeps no state between scopes it checks. */
const rulePacks = (): NagPack[] => [new AwsSolutionsChecks(), new ServerlessChecks()];

/** The findings of every rule pack under scope that no acknowledgement covers. */
function unacknowledgedFindings(scope: IConstruct): PolicyViolation[] {
  return rulePacks().flatMap((pack) => pack.validateScope(scope).violations);
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

/**
 * The acknowledged findings under scope, of every rule pack: which acknowledgement (by rule id) silenced a finding on
 * which resource. cdk-nag reports no such list, so this wraps its (private) acknowledgement lookup for one run.
 */
function acknowledgedFindings(scope: IConstruct): { resourcePath: string; ruleId: string }[] {
  const acknowledged: { resourcePath: string; ruleId: string }[] = [];
  for (const checks of rulePacks()) {
    const lookup: unknown = Reflect.get(checks, 'isAcknowledged');
    if (typeof lookup !== 'function') throw new Error('cdk-nag no longer has isAcknowledged: update this probe');
    Reflect.set(checks, 'isAcknowledged', (resource: IConstruct, ruleId: string): boolean => {
      const silenced = Boolean(lookup.call(checks, resource, ruleId));
      if (silenced) acknowledged.push({ resourcePath: resource.node.path, ruleId });
      return silenced;
    });
    checks.validateScope(scope);
  }
  return acknowledged;
}

describe.each(Object.entries(configurationVariants))('the app that cdk synth builds, with %s', (_, overrides) => {
  const { app } = synthesize(overrides);

  test('has no unacknowledged AwsSolutions or Serverless finding, error or warning', () => {
    const findings = unacknowledgedFindings(app);
    expect(findings, describeFindings(findings)).toEqual([]);
  });

  test('gives every acknowledgement a specific reason and the plain rule id', () => {
    for (const acknowledgement of acknowledgementsUnder(app)) {
      const where = `${acknowledgement.id} on ${acknowledgement.path}`;
      expect(acknowledgement.reason.trim().length, where).toBeGreaterThanOrEqual(20);
      // `cdk synth` honours both `AwsSolutions-X` and `AwsSolutions::AwsSolutions-X`, but cdk-nag's validateScope
      // (what this file runs) only the plain form, which CDK records as `Annotation::AwsSolutions-X`.
      expect(acknowledgement.id, where).toMatch(/^Annotation::(AwsSolutions|Serverless)-/);
    }
  });

  test('acknowledges only findings that occur: no acknowledgement is left over from a fixed one', () => {
    const silenced = acknowledgedFindings(app);
    for (const acknowledgement of acknowledgementsUnder(app)) {
      const ruleId = acknowledgement.id.replace(/^Annotation::/, '');
      const used = silenced.some(
        (finding) =>
          finding.ruleId === ruleId &&
          (finding.resourcePath === acknowledgement.path ||
            finding.resourcePath.startsWith(`${acknowledgement.path}/`)),
      );
      expect(used, `${ruleId} on ${acknowledgement.path}`).toBe(true);
    }
  });
});

describe('the usage-metering part, checked with the rest of the app', () => {
  const { app, stack } = synthesize();
  const silenced = acknowledgedFindings(app);
  const under = (path: string) =>
    silenced
      .filter((finding) => finding.resourcePath.startsWith(`${stack.node.path}/${path}/`))
      .map((finding) => `${finding.ruleId} on ${finding.resourcePath.slice(stack.node.path.length + 1)}`)
      .sort();

  test('has its findings silenced only for BatchMeterUsage, X-Ray and log delivery on *, the function its state machine invokes, where failures go, and its dead-letter queue', () => {
    // Each would be an error: their being silenced shows that the checks reached these resources.
    const functionId = logicalIdOf(projectFunction(stack, 'Metering').lambda);
    expect(under(stack.metering.node.id)).toEqual([
      'AwsSolutions-IAM5[Resource::*] on Metering/FinalMetering/Role/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::*] on Metering/Metering/Role/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::*] on Metering/MeteringRun/Role/DefaultPolicy/Resource',
      'AwsSolutions-IAM5[Resource::*] on Metering/Usage/Role/DefaultPolicy/Resource',
      `AwsSolutions-IAM5[Resource::<${functionId}.Arn>:*] on Metering/MeteringRun/Role/DefaultPolicy/Resource`,
      'AwsSolutions-SQS3 on Metering/DeadLetterQueue/Resource',
      'Serverless-LambdaDLQ on Metering/FinalMetering/Function/Resource',
      'Serverless-LambdaDLQ on Metering/Metering/Function/Resource',
      'Serverless-LambdaDLQ on Metering/Usage/Function/Resource',
      'Serverless-SQSRedrivePolicy on Metering/DeadLetterQueue/Resource',
    ]);
  });

  test('has POST /usage silenced for no Cognito authorizer only: IAM authorizes it, so no-authorization never fires', () => {
    expect(under('Api/RestApi/Default/usage')).toEqual(['AwsSolutions-COG4 on Api/RestApi/Default/usage/ANY/Resource']);
  });
});

describe('synthesis', () => {
  test('runs the AwsSolutions and Serverless checks and refuses an error-level finding of each', () => {
    const { app: probedApp, stack } = buildApp(exampleContext());
    new Queue(stack, 'QueueWithoutDeadLetterQueue');
    expect(() => probedApp.synth()).toThrow(/AwsSolutions-SQS3[\s\S]*Serverless-SQSRedrivePolicy/);
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
