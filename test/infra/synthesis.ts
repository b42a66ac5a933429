/**
 * Synthesizes the app the way `cdk synth` does, from the `cdk.json` configuration with context overrides, and reads
 * resources back from the template by the constructs that made them.
 */
import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { buildApp } from '../../lib/app.ts';
import type { ProjectFunction } from '../../lib/functions.ts';
import type { SaasMarketplaceStack } from '../../lib/stack.ts';
import { cdkJsonContext } from '../../local/config.ts';

export interface CfnResource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
  readonly DependsOn?: string[];
  readonly DeletionPolicy?: string;
}

/**
 * These tests read templates, not bundles: skipping esbuild makes a synthesis take a fraction of a second.
 * `synth.test.ts` runs `cdk synth` with bundling, as a seller does.
 */
const withoutBundling = { 'aws:cdk:bundling-stacks': [] };

export function synthesize(overrides: Record<string, unknown> = {}) {
  const { app, stack } = buildApp({ ...cdkJsonContext(), ...withoutBundling, ...overrides });
  return { app, stack, template: Template.fromStack(stack) };
}

export const customDomain = {
  domainName: 'buy.example.com',
  certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e',
} as const;

export const hostedZone = { hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com' } as const;

/** Every optional part of the stack, each on its own and all at once: what the nag tests must find clean. */
export const configurationVariants: Record<string, Record<string, unknown>> = {
  'the cdk.json configuration': {},
  'WAF on': { 'marketplace.api.waf.enabled': true },
  'an admin email': { 'marketplace.notifications.adminEmail': 'admin@example.com' },
  'a custom domain without a hosted zone': { 'marketplace.api.customDomain': customDomain },
  'a custom domain with a hosted zone': { 'marketplace.api.customDomain': { ...customDomain, ...hostedZone } },
  'every option at once': {
    'marketplace.api.waf.enabled': true,
    'marketplace.notifications.adminEmail': 'admin@example.com',
    'marketplace.api.customDomain': { ...customDomain, ...hostedZone },
  },
};

export function logicalIdOf(construct: IConstruct): string {
  const element = construct.node.defaultChild as CfnElement;
  return element.stack.getLogicalId(element);
}

export function resourcesOfType(template: Template, type: string): Record<string, CfnResource> {
  return template.findResources(type) as Record<string, CfnResource>;
}

export function resourceNamed(template: Template, logicalId: string): CfnResource {
  const resource = (template.toJSON() as { Resources: Record<string, CfnResource> }).Resources[logicalId];
  if (resource === undefined) throw new Error(`no resource ${logicalId} in the template`);
  return resource;
}

export const functionIds = ['Fulfillment', 'RegistrationPage', 'RegistrationNotifier'] as const;
export type FunctionId = (typeof functionIds)[number];

export function projectFunction(stack: SaasMarketplaceStack, id: FunctionId): ProjectFunction {
  return stack.registration.node.findChild(id) as ProjectFunction;
}

/** `{ "Fn::GetAtt": [logicalId, attribute] }`, as CloudFormation references an attribute. */
export function getAtt(logicalId: string, attribute: string) {
  return { 'Fn::GetAtt': [logicalId, attribute] };
}
