/**
 * Assembles the CDK app: configuration, stack and cdk-nag. `bin/app.ts` and the infra tests both call
 * {@link buildApp}, so the tests check the very app that `cdk synth` produces, with the same rule pack.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { configFromContext, parseConfig } from './config.ts';
import { SaasMarketplaceStack } from './stack.ts';

export const STACK_ID = 'SaasMarketplace';

export interface MarketplaceApp {
  readonly app: App;
  readonly stack: SaasMarketplaceStack;
}

/**
 * Builds the app from CDK context: the given object (tests), or what the CDK CLI passes in (`cdk.json` and `-c`).
 * Throws `ConfigError` (from `config.ts`) when the configuration does not validate.
 */
export function buildApp(context?: Record<string, unknown>): MarketplaceApp {
  const app = new App(context === undefined ? {} : { context });
  const config = parseConfig(configFromContext(app.node.getAllContext() as Record<string, unknown>));
  const stack = new SaasMarketplaceStack(app, STACK_ID, {
    config,
    description: 'Serverless backend for an AWS Marketplace SaaS listing',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
