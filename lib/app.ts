/**
 * Assembles the CDK app: configuration, stacks and cdk-nag. `bin/app.ts` and the infra tests both call
 * {@link buildApp}, so the tests check the very app that `cdk synth` produces, with the same rule packs.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { MARKETPLACE_HOME_REGION } from '../contracts/index.ts';
import { configFromContext, parseConfig } from './config.ts';
import { refuseOversizedEnvironments } from './environment-size.ts';
import { refuseExampleProducts } from './example-products.ts';
import { MarketplaceEventForwarder } from './marketplace-event-forwarder.ts';
import { marketplaceEventPatterns, receivesMarketplaceEvents } from './marketplace-events.ts';
import { SaasMarketplaceStack } from './stack.ts';

export const STACK_ID = 'SaasMarketplace';
export const FORWARDER_STACK_ID = 'SaasMarketplaceEventForwarder';

export interface MarketplaceApp {
  readonly app: App;
  readonly stack: SaasMarketplaceStack;
  /** Only when the stack is deployed outside us-east-1, where Marketplace's notifications start. */
  readonly forwarder?: MarketplaceEventForwarder;
}

/**
 * Builds the app from CDK context: the given object (tests), or what the CDK CLI passes in (`cdk.json` and `-c`).
 * `outdir` is where a synthesis writes the cloud assembly: by default the CLI's, or else a new temporary folder that
 * aws-cdk-lib never removes (tests pass one they remove). Throws `ConfigError` (from `config.ts`) when the
 * configuration does not validate, sells the example products without `allowExampleProducts`
 * (`example-products.ts`), or would give a function more environment than Lambda takes (`environment-size.ts`).
 */
export function buildApp(context?: Record<string, unknown>, { outdir }: { outdir?: string } = {}): MarketplaceApp {
  const app = new App({
    ...(context === undefined ? {} : { context }),
    ...(outdir === undefined ? {} : { outdir }),
  });
  const allContext = app.node.getAllContext() as Record<string, unknown>;
  const config = parseConfig(configFromContext(allContext));
  refuseExampleProducts(config, allContext);
  // Without a configured region the stack stays environment-agnostic: it deploys wherever the credentials point,
  // and refuses any region but us-east-1 if it needs Marketplace's events there (see marketplace-events.ts).
  const stack = new SaasMarketplaceStack(app, STACK_ID, {
    config,
    ...(config.region === undefined ? {} : { env: { region: config.region } }),
    description: 'Serverless backend for an AWS Marketplace SaaS listing',
  });
  const forwarder =
    config.region !== undefined && config.region !== MARKETPLACE_HOME_REGION
      ? new MarketplaceEventForwarder(app, FORWARDER_STACK_ID, {
          destinationRegion: config.region,
          selections: receivesMarketplaceEvents(config) ? marketplaceEventPatterns(config) : [],
          ...(stack.lifecycle.remoteSubscriptions === undefined
            ? {}
            : { legacySubscriptions: stack.lifecycle.remoteSubscriptions }),
          alarmRecipients: config.observability,
          description: `Forwards AWS Marketplace notifications from ${MARKETPLACE_HOME_REGION} to ${config.region}`,
        })
      : undefined;
  refuseOversizedEnvironments(app);
  // The main stack's rules and queue first: a notification forwarded before they exist would be lost.
  forwarder?.addStackDependency(stack, 'the lifecycle rules and queue must exist before notifications are sent on');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return { app, stack, ...(forwarder === undefined ? {} : { forwarder }) };
}
