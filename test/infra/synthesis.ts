/**
 * Synthesizes the app the way `cdk synth` does, from the `cdk.json` configuration with context overrides, and reads
 * resources back from the template by the constructs that made them.
 */
import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { buildApp } from '../../lib/app.ts';
import { configFromContext, parseConfig } from '../../lib/config.ts';
import { exampleProductsAllowed } from '../../lib/example-products.ts';
import { ProjectFunction } from '../../lib/functions.ts';
import type { SaasMarketplaceStack } from '../../lib/stack.ts';
import { cdkJsonContext } from '../../local/config.ts';

export interface CfnResource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
  readonly DependsOn?: string[];
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
}

/**
 * These tests read templates, not bundles: skipping esbuild makes a synthesis take a fraction of a second.
 * `synth.test.ts` runs `cdk synth` with bundling, as a seller does.
 */
const withoutBundling = { 'aws:cdk:bundling-stacks': [] };

/** The context `cdk synth` gets from `cdk.json`, its example products allowed (the tests are about them). */
export function exampleContext(): Record<string, unknown> {
  return { ...cdkJsonContext(), ...exampleProductsAllowed, ...withoutBundling };
}

export function synthesize(overrides: Record<string, unknown> = {}) {
  const { app, stack, forwarder } = buildApp({ ...exampleContext(), ...overrides });
  return { app, stack, forwarder, template: Template.fromStack(stack) };
}

export const customDomain = {
  domainName: 'buy.example.com',
  certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e',
} as const;

export const hostedZone = { hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com' } as const;

export const webhookUrl = 'https://hooks.example.com/marketplace';

/** Where the alarms go: an address, and a topic of the seller's in the region of `everyOption`. */
export const alarmRecipients = {
  'marketplace.observability.alarmEmail': 'oncall@example.com',
  'marketplace.observability.alarmTopicArn': 'arn:aws:sns:eu-west-1:123456789012:pager',
} as const;

/** SNS alone serves only legacy products: the cdk.json configuration without its license products. */
export const snsOnly = {
  'marketplace.lifecycle.eventSources': 'sns',
  'marketplace.products': parseConfig(configFromContext(cdkJsonContext())).products.filter(
    (product) => product.identityModel === 'legacy',
  ),
};

/**
 * A `metering` section with no default left: another minute, a window of 3 hours (the least, and odd hours halve to a
 * fraction), no zero-usage records, a fractional rate.
 */
export const meteringOverrides = {
  'marketplace.metering': {
    scheduleMinute: 25,
    closedHourGraceMinutes: 20,
    acceptanceWindowHours: 3,
    finalHourMarginMinutes: 20,
    zeroUsageRecords: false,
    callsPerSecond: 2.5,
    eventIdRetentionDays: 2,
  },
} as const;

/** Every optional part of the stack, each on its own and all at once: what the nag tests must find clean. */
export const configurationVariants: Record<string, Record<string, unknown>> = {
  'the cdk.json configuration': {},
  'non-default metering settings': meteringOverrides,
  'WAF on': { 'marketplace.api.waf.enabled': true },
  'an admin email': { 'marketplace.notifications.adminEmail': 'admin@example.com' },
  'a custom domain without a hosted zone': { 'marketplace.api.customDomain': customDomain },
  'a custom domain with a hosted zone': { 'marketplace.api.customDomain': { ...customDomain, ...hostedZone } },
  'SNS and EventBridge notifications': { 'marketplace.lifecycle.eventSources': 'both' },
  'SNS notifications only': snsOnly,
  'a webhook': { 'marketplace.notifications.webhookUrl': webhookUrl },
  'the region eu-west-1 (with the us-east-1 forwarder)': { 'marketplace.region': 'eu-west-1' },
  'SNS notifications only, in eu-west-1': { ...snsOnly, 'marketplace.region': 'eu-west-1' },
  'an alarm email and topic': {
    'marketplace.observability.alarmEmail': 'oncall@example.com',
    'marketplace.observability.alarmTopicArn': 'arn:aws:sns:us-east-1:123456789012:pager',
  },
  'tracing off': { 'marketplace.observability.tracing': false },
  'every option at once': {
    ...alarmRecipients,
    'marketplace.api.waf.enabled': true,
    'marketplace.notifications.adminEmail': 'admin@example.com',
    'marketplace.notifications.webhookUrl': webhookUrl,
    // A regional API domain takes a certificate of its own region.
    'marketplace.api.customDomain': {
      ...customDomain,
      certificateArn: customDomain.certificateArn.replace(':us-east-1:', ':eu-west-1:'),
      ...hostedZone,
    },
    'marketplace.lifecycle.eventSources': 'both',
    'marketplace.region': 'eu-west-1',
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

/** Every function of the stack, by its construct id; `WebhookCaller` only with `notifications.webhookUrl`. */
export const functionIds = [
  'Fulfillment',
  'RegistrationPage',
  'SubscriberAccess',
  'Usage',
  'Metering',
  'FinalMetering',
  'SellerNotifier',
  'Lifecycle',
  'FinalMeteringWindows',
  'WebhookCaller',
] as const;
export type FunctionId = (typeof functionIds)[number];

export function projectFunction(stack: SaasMarketplaceStack, id: FunctionId): ProjectFunction {
  const found = stack.node
    .findAll()
    .filter(
      (construct): construct is ProjectFunction => construct instanceof ProjectFunction && construct.node.id === id,
    );
  if (found.length !== 1) throw new Error(`expected one function ${id}, found ${found.length}`);
  return found[0] as ProjectFunction;
}

/** `{ "Fn::GetAtt": [logicalId, attribute] }`, as CloudFormation references an attribute. */
export function getAtt(logicalId: string, attribute: string) {
  return { 'Fn::GetAtt': [logicalId, attribute] };
}
