/**
 * Buyer registration on AWS: the functions behind the fulfillment URL and the registration page (the API serves
 * them, see `api.ts`). Each may do exactly what its code does and nothing more.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Grant } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { crashAlarm } from './alarms.ts';
import { fulfillmentRoute, registrationPageRoute, type ApiRoute } from './api-routes.ts';
import type { Config } from './config.ts';
import { registrationVariables } from './function-environment.ts';
import { ProjectFunction } from './functions.ts';
import { grantOnItems } from './item-grants.ts';
import { subscribersItemPrefixes } from '../contracts/index.ts';

export interface RegistrationProps {
  readonly config: Config;
  readonly subscribers: TableV2;
}

export class Registration extends Construct {
  /** The function behind each of the registration's API routes. */
  readonly routeFunctions: ReadonlyMap<ApiRoute, ProjectFunction>;

  constructor(scope: Construct, id: string, { config, subscribers }: RegistrationProps) {
    super(scope, id);
    const { subscriber, session, resolvedToken } = subscribersItemPrefixes;
    const fulfillment = new ProjectFunction(this, 'Fulfillment', {
      entry: fulfillmentRoute.entry,
      serviceName: fulfillmentRoute.functionName,
      description: 'Fulfillment URL: resolves the Marketplace token and sends the buyer on to registration',
      // Memory buys CPU, and CPU buys a shorter cold start for a buyer who is waiting.
      memorySize: 512,
      timeout: Duration.seconds(fulfillmentRoute.timeoutSeconds),
      tracing: config.observability.tracing,
      failuresGo:
        "API Gateway invokes it synchronously: a failure is the buyer's error page (alarmed as fulfillment-crashed), " +
        'not an event to keep.',
      environment: {
        SUBSCRIBERS_TABLE: subscribers.tableName,
        MARKETPLACE_REGION: config.marketplaceRegion,
        ...registrationVariables(config),
      },
    });
    // Creates or refreshes the subscriber (reading it back when an operator's change makes a refresh stand down),
    // writes the registration session, and remembers (and recalls) what a registration token resolved to.
    grantOnItems(fulfillment, subscribers, ['dynamodb:UpdateItem', 'dynamodb:GetItem'], [subscriber]);
    grantOnItems(fulfillment, subscribers, ['dynamodb:PutItem'], [session]);
    grantOnItems(fulfillment, subscribers, ['dynamodb:PutItem', 'dynamodb:GetItem'], [resolvedToken]);
    Grant.addToPrincipal({
      grantee: fulfillment,
      actions: ['aws-marketplace:ResolveCustomer'],
      resourceArns: ['*'],
    });
    Validations.of(fulfillment).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'aws-marketplace:ResolveCustomer supports no resource-level permissions: the Service Authorization ' +
        'Reference lists no resource type for it, so "*" is the only resource it can be granted on.',
    });

    const registrationPage = new ProjectFunction(this, 'RegistrationPage', {
      entry: registrationPageRoute.entry,
      serviceName: registrationPageRoute.functionName,
      description: 'Registration page: shows the subscription and stores the buyer contact details once',
      memorySize: 512,
      timeout: Duration.seconds(registrationPageRoute.timeoutSeconds),
      tracing: config.observability.tracing,
      failuresGo:
        "API Gateway invokes it synchronously: a failure is the buyer's error page (alarmed as " +
        'registration-page-crashed), not an event to keep.',
      environment: {
        SUBSCRIBERS_TABLE: subscribers.tableName,
        ...registrationVariables(config),
      },
    });
    // Reads the session and the subscriber and stores the registration on the subscriber.
    grantOnItems(registrationPage, subscribers, ['dynamodb:GetItem'], [subscriber, session]);
    grantOnItems(registrationPage, subscribers, ['dynamodb:UpdateItem'], [subscriber]);

    crashAlarm(fulfillment, 'a buyer');
    crashAlarm(registrationPage, 'a buyer');
    this.routeFunctions = new Map<ApiRoute, ProjectFunction>([
      [fulfillmentRoute, fulfillment],
      [registrationPageRoute, registrationPage],
    ]);
  }
}
