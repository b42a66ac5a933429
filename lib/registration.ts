/**
 * Buyer registration on AWS: the fulfillment URL and the registration page behind a REST API, and the notifier that
 * turns each completed registration (read from the Subscribers table's stream) into a `Subscriber Registered` event on
 * the seller's bus. Each function may do exactly what its code does and nothing more.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { Grant } from 'aws-cdk-lib/aws-iam';
import { FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { alarmWhenAbove, crashAlarm } from './alarms.ts';
import { apiRoutes, fulfillmentRoute, registrationPageRoute, type ApiRoute } from './api-routes.ts';
import type { Config } from './config.ts';
import { CustomDomain } from './custom-domain.ts';
import { newDeadLetterQueue } from './dead-letter-queue.ts';
import { registrationVariables } from './function-environment.ts';
import { ProjectFunction } from './functions.ts';
import { answerGatewayErrorsWithPages } from './gateway-responses.ts';
import { grantOnItems, subscribersItemPrefixes } from './item-grants.ts';
import { LOG_RETENTION } from './log-retention.ts';
import { WebFirewall } from './web-firewall.ts';

export interface RegistrationProps {
  readonly config: Config;
  readonly subscribers: TableV2;
  /** Where completed registrations are announced. */
  readonly sellerBus: IEventBus;
}

const STAGE_NAME = 'prod';

/**
 * One JSON line per request, with nothing the caller sent in it beyond the method, the path template and the user
 * agent: no body, no query string, no headers. The Marketplace token arrives in a form body and the registration
 * session in a cookie; neither may reach a log line.
 */
const accessLogFormat = AccessLogFormat.custom(
  JSON.stringify({
    requestId: AccessLogField.contextRequestId(),
    requestTime: AccessLogField.contextRequestTime(),
    ip: AccessLogField.contextIdentitySourceIp(),
    userAgent: AccessLogField.contextIdentityUserAgent(),
    method: AccessLogField.contextHttpMethod(),
    resourcePath: AccessLogField.contextResourcePath(),
    protocol: AccessLogField.contextProtocol(),
    status: AccessLogField.contextStatus(),
    responseLength: AccessLogField.contextResponseLength(),
    latency: AccessLogField.contextResponseLatency(),
    integrationStatus: AccessLogField.contextIntegrationStatus(),
    integrationLatency: AccessLogField.contextIntegrationLatency(),
    errorType: AccessLogField.contextErrorResponseType(),
  }),
);

export class Registration extends Construct {
  readonly api: RestApi;
  /** What the seller pastes into the Marketplace listing as its fulfillment URL. */
  readonly fulfillmentUrl: string;
  readonly registrationUrl: string;
  /** Stream records whose event could not be published, after every retry. */
  readonly notifierDeadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: RegistrationProps) {
    super(scope, id);
    this.api = this.restApi(props.config.api, this.routeFunctions(props));
    const { customDomain } = props.config.api;
    const baseUrl =
      customDomain === undefined
        ? this.api.url
        : new CustomDomain(this, 'CustomDomain', { api: this.api, domain: customDomain }).url;
    const urlOf = (route: ApiRoute) => `${baseUrl}${route.path.replace(/^\//, '')}`;
    this.fulfillmentUrl = urlOf(fulfillmentRoute);
    this.registrationUrl = urlOf(registrationPageRoute);
    this.notifierDeadLetterQueue = this.registrationNotifier(props);
  }

  /**
   * The function behind each route of `api-routes.ts`, each allowed exactly what its code does, on exactly the kinds
   * of item it does it to.
   */
  private routeFunctions({ config, subscribers }: RegistrationProps): Map<ApiRoute, ProjectFunction> {
    const { subscriber, session } = subscribersItemPrefixes;
    const fulfillment = new ProjectFunction(this, 'Fulfillment', {
      entry: fulfillmentRoute.entry,
      serviceName: fulfillmentRoute.functionName,
      description: 'Fulfillment URL: resolves the Marketplace token and sends the buyer on to registration',
      // Memory buys CPU, and CPU buys a shorter cold start for a buyer who is waiting.
      memorySize: 512,
      // ResolveCustomer gives up after 10 s (see fulfillment.ts); API Gateway gives up on the function after 29 s.
      timeout: Duration.seconds(20),
      environment: {
        SUBSCRIBERS_TABLE: subscribers.tableName,
        MARKETPLACE_REGION: config.marketplaceRegion,
        ...registrationVariables(config),
      },
    });
    // Creates or refreshes the subscriber and writes the registration session.
    grantOnItems(fulfillment, subscribers, ['dynamodb:UpdateItem'], [subscriber]);
    grantOnItems(fulfillment, subscribers, ['dynamodb:PutItem'], [session]);
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
      timeout: Duration.seconds(10),
      environment: {
        SUBSCRIBERS_TABLE: subscribers.tableName,
        ...registrationVariables(config),
      },
    });
    // Reads the session and the subscriber and stores the registration on the subscriber.
    grantOnItems(registrationPage, subscribers, ['dynamodb:GetItem'], [subscriber, session]);
    grantOnItems(registrationPage, subscribers, ['dynamodb:UpdateItem'], [subscriber]);

    crashAlarm(fulfillment);
    crashAlarm(registrationPage);
    return new Map([
      [fulfillmentRoute, fulfillment],
      [registrationPageRoute, registrationPage],
    ]);
  }

  private restApi(settings: Config['api'], routeFunctions: ReadonlyMap<ApiRoute, ProjectFunction>): RestApi {
    const accessLogs = new LogGroup(this, 'ApiAccessLogs', { retention: LOG_RETENTION });
    const api = new RestApi(this, 'Api', {
      description: 'AWS Marketplace fulfillment URL and buyer registration page',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      // On the seller's domain the pages, and the session cookie they set, live on that one origin: a second address
      // (execute-api) serving the same pages would be one more a buyer could be sent to and taught to trust.
      disableExecuteApiEndpoint: settings.customDomain !== undefined,
      // API Gateway logs through one role per account and region, set on the account rather than on an API. Creating
      // it here makes a first deployment work in a fresh account; it replaces a role already set there (with one of
      // the same rights, so other APIs keep logging). Retained: deleting this stack must not silence other APIs.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: STAGE_NAME,
        throttlingRateLimit: settings.throttling.rateLimit,
        throttlingBurstLimit: settings.throttling.burstLimit,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat,
        loggingLevel: MethodLoggingLevel.ERROR,
        // Data tracing logs whole requests, so the buyer's Marketplace token and session cookie would land in the
        // execution log. Errors are logged without it; the functions log what they need themselves.
        dataTraceEnabled: false,
      },
    });
    // API Gateway would create the execution log group itself, without an expiry.
    const executionLogs = new LogGroup(this, 'ApiExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${api.restApiId}/${STAGE_NAME}`,
      retention: LOG_RETENTION,
    });
    api.deploymentStage.node.addDependency(executionLogs);
    if (settings.customDomain !== undefined) {
      // CDK's own output of the stage URL would name the endpoint just disabled; the stack outputs the domain's URLs.
      api.node.tryRemoveChild('Endpoint');
    }
    answerGatewayErrorsWithPages(api);

    // `ANY`, as the local gateway serves them: a handler answers a method it does not serve with a page a buyer
    // understands, where API Gateway would answer a bare 403.
    const publicMethods = apiRoutes.map((route) => {
      const routeFunction = routeFunctions.get(route);
      if (routeFunction === undefined) throw new Error(`No function serves the API route ${route.path}`);
      return api.root.resourceForPath(route.path).addMethod('ANY', new LambdaIntegration(routeFunction.lambda));
    });

    Validations.of(api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        'The methods take HTML form posts (application/x-www-form-urlencoded), which API Gateway request ' +
        'validation cannot check; the handlers validate type, size, encoding and every field themselves.',
    });
    for (const method of publicMethods) {
      for (const id of ['AwsSolutions-APIG4', 'AwsSolutions-COG4']) {
        Validations.of(method).acknowledge({
          id,
          reason:
            'Public by design: AWS Marketplace sends the buyer browser to the fulfillment URL with an ' +
            'unauthenticated form POST, and the registration page knows the buyer only by the session cookie the ' +
            'fulfillment URL set.',
        });
      }
    }
    Validations.of(api).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        'The account-wide API Gateway logging role must be able to write the logs of every API in the account ' +
        'and region, which is what this AWS managed policy grants; a policy scoped to this API would break the others.',
    });
    if (settings.waf.enabled) {
      new WebFirewall(this, 'WebFirewall', {
        stage: api.deploymentStage,
        requestsPerFiveMinutes: settings.waf.requestsPerFiveMinutes,
      });
    } else {
      Validations.of(api.deploymentStage).acknowledge({
        id: 'AwsSolutions-APIG3',
        reason:
          'WAF is off in this configuration (marketplace.api.waf.enabled = false); the stage throttling caps the ' +
          'request rate instead. Turn it on for a per-IP rate-based rule.',
      });
    }
    return api;
  }

  private registrationNotifier(props: RegistrationProps): Queue {
    const notifier = new ProjectFunction(this, 'RegistrationNotifier', {
      entry: 'lambdas/notifications/seller-notifier.ts',
      serviceName: 'seller-notifier',
      description: 'Publishes a Subscriber Registered event for every registration stored in the Subscribers table',
      memorySize: 256,
      timeout: Duration.seconds(30),
      environment: {
        EVENT_BUS_NAME: props.sellerBus.eventBusName,
        EVENT_SOURCE: props.config.events.source,
      },
    });
    props.sellerBus.grantPutEventsTo(notifier);

    // An on-failure message names the failed stream records (shard, sequence numbers, times), not their data: the
    // stream keeps the records for 24 hours and the table keeps the registrations for good, so these messages say
    // which registrations still need announcing.
    const deadLetterQueue = newDeadLetterQueue(this, 'RegistrationNotifierDeadLetterQueue', {
      catches: 'the registration notifier stream event source mapping (its on-failure destination)',
      alarmName: 'registration-notifier-dead-letters',
      alarmDescription:
        'A registration was not announced on the seller event bus: its Subscriber Registered event failed for 12 ' +
        'hours. The message names the stream records; the registrations are in the Subscribers table. Fix what ' +
        'failed (see the notifier log group), then publish the events for those registrations.',
    });

    notifier.lambda.addEventSource(
      new DynamoEventSource(props.subscribers, {
        // From the oldest record the stream holds: a mapping that is replaced misses no registration.
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 10,
        // Only writes that leave a registration on the item. Filters match leaves only, so the rule names
        // `registration.registeredAt`, which every stored registration has.
        filters: [
          FilterCriteria.filter({
            dynamodb: { NewImage: { registration: { M: { registeredAt: { S: FilterRule.exists() } } } } },
          }),
        ],
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        // No retry count: a failing record is retried until it is 12 hours old. What fails here is the seller bus,
        // and while it is down every registration fails alike, so holding the shard holds back nothing that could
        // succeed; a count would dead-letter registrations a few minutes into an EventBridge outage.
        // Twelve hours leaves the other half of the stream's 24 to replay what ends up in the dead-letter queue.
        maxRecordAge: Duration.hours(12),
        onFailure: new SqsDlq(deadLetterQueue),
      }),
    );
    alarmWhenAbove(notifier, 'IteratorAgeAlarm', {
      name: 'registration-notifier-behind',
      description:
        'The registration notifier is more than an hour behind the Subscribers table stream: registrations are ' +
        'waiting to be announced on the seller event bus, most likely because publishing keeps failing (see the ' +
        'notifier log group). At 12 hours a record goes to the dead-letter queue.',
      metric: notifier.lambda.metric('IteratorAge', { statistic: 'Maximum' }),
      threshold: Duration.hours(1).toMilliseconds(),
    });
    return deadLetterQueue;
  }
}
