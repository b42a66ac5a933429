/**
 * The access check for the seller's app: `GET /subscribers/{id}` (IAM-authorized, see `api.ts`) answers whether a
 * subscriber may use the product now, with its entitlements and registration. Its function reads subscriber items
 * and nothing else.
 */
import { Duration } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { crashAlarm } from './alarms.ts';
import { subscriberAccessRoute, type ApiRoute } from './api-routes.ts';
import type { Config } from './config.ts';
import { finalMeteringGraceVariable } from './function-environment.ts';
import { ProjectFunction } from './functions.ts';
import { grantOnItems } from './item-grants.ts';
import { subscribersItemPrefixes } from '../contracts/index.ts';

export interface AccessCheckProps {
  readonly config: Config;
  readonly subscribers: TableV2;
}

export class AccessCheck extends Construct {
  /** The function behind the access check's API route. */
  readonly routeFunctions: ReadonlyMap<ApiRoute, ProjectFunction>;

  constructor(scope: Construct, id: string, { config, subscribers }: AccessCheckProps) {
    super(scope, id);
    const subscriberAccess = new ProjectFunction(this, 'SubscriberAccess', {
      entry: subscriberAccessRoute.entry,
      serviceName: subscriberAccessRoute.functionName,
      description: "Access check for the seller's app: may this subscriber use the product now, and with what",
      // The seller's app asks while its user waits to be let in: memory buys CPU, and CPU a shorter cold start.
      memorySize: 512,
      timeout: Duration.seconds(subscriberAccessRoute.timeoutSeconds),
      tracing: config.observability.tracing,
      failuresGo:
        "API Gateway invokes it synchronously: a failure is the seller app's error answer (alarmed as " +
        'subscriber-access-crashed), not an event to keep.',
      environment: {
        SUBSCRIBERS_TABLE: subscribers.tableName,
        ...finalMeteringGraceVariable(config),
      },
    });
    grantOnItems(subscriberAccess, subscribers, ['dynamodb:GetItem'], [subscribersItemPrefixes.subscriber]);
    crashAlarm(subscriberAccess, "the seller's app");
    this.routeFunctions = new Map([[subscriberAccessRoute, subscriberAccess]]);
  }
}
