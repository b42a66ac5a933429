/**
 * Assembles the CDK app: configuration, stacks and cdk-nag. `bin/app.ts` and the infra tests both call
 * {@link buildApp}, so the tests check the very app that `cdk synth` produces, with the same rule pack.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { configFromContext, parseConfig } from './config.ts';
import { MarketplaceEventForwarder } from './marketplace-event-forwarder.ts';
import {
  MARKETPLACE_EVENTS_REGION,
  marketplaceEventPatterns,
  receivesMarketplaceEvents,
} from './marketplace-events.ts';
import { SaasMarketplaceStack } from './stack.ts';

export const STACK_ID = 'SaasMarketplace';
export const FORWARDER_STACK_ID = 'SaasMarketplaceEventForwarder';

export interface MarketplaceApp {
  readonly app: App;
  readonly stack: SaasMarketplaceStack;
  /** Only when the stack is deployed outside us-east-1 and receives Marketplace's EventBridge notifications. */
  readonly forwarder?: MarketplaceEventForwarder;
}

/**
 * Builds the app from CDK context: the given object (tests), or what the CDK CLI passes in (`cdk.json` and `-c`).
 * Throws `ConfigError` (from `config.ts`) when the configuration does not validate.
 */
export function buildApp(context?: Record<string, unknown>): MarketplaceApp {
  const app = new App(context === undefined ? {} : { context });
  const config = parseConfig(configFromContext(app.node.getAllContext() as Record<string, unknown>));
  // Without a configured region the stack stays environment-agnostic: it deploys wherever the credentials point,
  // and refuses any region but us-east-1 if it needs Marketplace's events there (see marketplace-events.ts).
  const stack = new SaasMarketplaceStack(app, STACK_ID, {
    config,
    ...(config.region === undefined ? {} : { env: { region: config.region } }),
    description: 'Serverless backend for an AWS Marketplace SaaS listing',
  });
  const forwarder =
    config.region !== undefined && config.region !== MARKETPLACE_EVENTS_REGION && receivesMarketplaceEvents(config)
      ? new MarketplaceEventForwarder(app, FORWARDER_STACK_ID, {
          destinationRegion: config.region,
          selections: marketplaceEventPatterns(config),
          description: `Forwards AWS Marketplace notifications from ${MARKETPLACE_EVENTS_REGION} to ${config.region}`,
        })
      : undefined;
  // The main stack's rules first: an event forwarded before they exist would match nothing and be lost.
  forwarder?.addStackDependency(stack, 'the lifecycle rules must exist before events are forwarded to them');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, ...(forwarder === undefined ? {} : { forwarder }) };
}
