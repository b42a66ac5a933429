/**
 * The subscription lifecycle on AWS: Marketplace's notifications (EventBridge events for every product, the legacy SNS
 * topics for products listed with them, as `lifecycle.eventSources` says) wait in one queue, and the lifecycle
 * function folds each into the subscriber's state and entitlements. A schedule ends the subscriptions whose
 * final-metering window has passed, which no notification announces.
 */
import { Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction, SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Grant } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { alarmWhenAbove } from './alarms.ts';
import type { Config } from './config.ts';
import { newDeadLetterQueue } from './dead-letter-queue.ts';
import { finalMeteringGraceVariable, productsVariable } from './function-environment.ts';
import { ProjectFunction } from './functions.ts';
import { grantOnItems } from './item-grants.ts';
import {
  marketplaceEventPatterns,
  receivesMarketplaceEvents,
  requireMarketplaceEventsRegion,
} from './marketplace-events.ts';
import {
  allowLegacyTopicsToSend,
  legacyTopicsOf,
  mainStackSubscribesToLegacyTopics,
  newUndeliveredNotificationsQueue,
  receivesLegacyNotifications,
  subscribeQueueToLegacyTopics,
  type RemoteSubscriptions,
} from './marketplace-topics.ts';
import { newWorkQueue } from './work-queue.ts';
import { ENDING_INDEX, QUEUE_CONSUMERS, subscribersItemPrefixes } from '../contracts/index.ts';

export interface LifecycleProps {
  readonly config: Config;
  readonly subscribers: TableV2;
}

/** A batch is handled one message after another; each may read entitlements from Marketplace (with retries). */
const CONSUMER = QUEUE_CONSUMERS.lifecycle;
const LIFECYCLE_TIMEOUT = Duration.seconds(CONSUMER.functionTimeoutSeconds);

export class Lifecycle extends Construct {
  /** Where every Marketplace notification waits for the lifecycle function. */
  readonly queue: Queue;
  /** Notifications the lifecycle function failed on ten times. */
  readonly deadLetterQueue: Queue;
  /** EventBridge notifications that could not be put in the queue; only with the EventBridge source. */
  readonly undeliveredEventsQueue?: Queue;
  /** Legacy SNS notifications that could not be delivered to the queue; only when this stack subscribes to them. */
  readonly undeliveredNotificationsQueue?: Queue;
  /** Scheduled sweeps EventBridge could not start. */
  readonly undeliveredSweepsQueue: Queue;
  /**
   * The legacy topics the forwarder stack subscribes the queue to, when this stack is outside us-east-1; the queue is
   * then named, so that a stack in another region can address it.
   */
  readonly remoteSubscriptions?: RemoteSubscriptions;

  constructor(scope: Construct, id: string, props: LifecycleProps) {
    super(scope, id);
    const { config } = props;
    const legacyTopics = receivesLegacyNotifications(config) ? legacyTopicsOf(config) : [];
    const subscribesHere = mainStackSubscribesToLegacyTopics(config);
    if (legacyTopics.length > 0 && !subscribesHere) {
      this.remoteSubscriptions = { topics: legacyTopics, queueName: `${Stack.of(this).stackName}-lifecycle` };
    }
    const { queue, deadLetterQueue } = newWorkQueue(this, 'Queue', {
      queueName: this.remoteSubscriptions?.queueName,
      consumerTimeout: LIFECYCLE_TIMEOUT,
      // A failed message comes back after the visibility timeout (six minutes): ten attempts span about an hour.
      maxReceiveCount: CONSUMER.maxReceiveCount,
      deadLetters: {
        catches: 'the lifecycle queue (its redrive policy, after ten receives)',
        alarmName: 'lifecycle-dead-letters',
        alarmDescription:
          'A Marketplace notification failed in the lifecycle function ten times over about an hour, so a ' +
          "subscriber's state or entitlements may be stale: most likely the Subscribers table or Marketplace's " +
          'GetEntitlements kept failing (see the lifecycle log group). The message is the notification; once the ' +
          'cause is fixed, move the messages back to the lifecycle queue (SQS redrive): applying one twice is safe.',
      },
    });
    this.queue = queue;
    this.deadLetterQueue = deadLetterQueue;
    this.lifecycleFunction(props);

    const subscribesToTopicsHere = legacyTopics.length > 0 && subscribesHere;
    if ((receivesMarketplaceEvents(config) || subscribesToTopicsHere) && Token.isUnresolved(Stack.of(this).region)) {
      requireMarketplaceEventsRegion(this);
    }
    if (receivesMarketplaceEvents(config)) this.undeliveredEventsQueue = this.receiveMarketplaceEvents(config);
    if (subscribesToTopicsHere) {
      this.undeliveredNotificationsQueue = newUndeliveredNotificationsQueue(this);
      subscribeQueueToLegacyTopics(this, this.queue, legacyTopics, this.undeliveredNotificationsQueue);
    } else if (this.remoteSubscriptions !== undefined) {
      allowLegacyTopicsToSend(this.queue, this.remoteSubscriptions.topics);
    }
    this.undeliveredSweepsQueue = this.sweepFinalMeteringWindows(props);
  }

  private lifecycleFunction({ config, subscribers }: LifecycleProps): void {
    const lifecycle = new ProjectFunction(this, 'Lifecycle', {
      entry: 'lambdas/lifecycle/lifecycle.ts',
      serviceName: 'lifecycle',
      description: "Applies Marketplace's lifecycle notifications to the subscribers and reads their entitlements",
      memorySize: 256,
      timeout: LIFECYCLE_TIMEOUT,
      tracing: config.observability.tracing,
      failuresGo:
        'It consumes the lifecycle queue: a notification it fails ten times moves to the lifecycle dead-letter ' +
        "queue by the queue's redrive policy.",
      environment: {
        SUBSCRIBERS_TABLE: subscribers.tableName,
        ...productsVariable(config),
        ...finalMeteringGraceVariable(config),
      },
    });
    const { subscriber, agreement, rejectedMarketplaceMessage } = subscribersItemPrefixes;
    // Reads and updates the subscriber; records each agreement (and its subscriber) by update; sets aside, as a new
    // item, a notification it cannot use.
    grantOnItems(lifecycle, subscribers, ['dynamodb:GetItem'], [subscriber]);
    grantOnItems(lifecycle, subscribers, ['dynamodb:UpdateItem'], [subscriber, agreement]);
    grantOnItems(lifecycle, subscribers, ['dynamodb:PutItem'], [rejectedMarketplaceMessage]);
    Grant.addToPrincipal({
      grantee: lifecycle,
      actions: ['aws-marketplace:GetEntitlements'],
      resourceArns: ['*'],
    });
    Validations.of(lifecycle).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'aws-marketplace:GetEntitlements supports no resource-level permissions: the Service Authorization ' +
        'Reference lists no resource type for it, so "*" is the only resource it can be granted on.',
    });
    lifecycle.lambda.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: CONSUMER.batchSize,
        reportBatchItemFailures: true,
        // GetEntitlements allows 20 calls a second per account: five batches at once stay well under it.
        maxConcurrency: CONSUMER.maxConcurrency,
      }),
    );
    Validations.of(lifecycle).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason:
        'Lambda takes no on-failure destination for an SQS event source: the lifecycle queue redrive policy moves a ' +
        'notification the function failed ten times to the lifecycle dead-letter queue.',
    });
    alarmWhenAbove(this.queue, 'BehindAlarm', {
      name: 'lifecycle-behind',
      description:
        'A Marketplace notification has waited in the lifecycle queue for more than 30 minutes: the lifecycle ' +
        'function keeps failing it or cannot keep up (see the lifecycle log group). A late cancellation shortens ' +
        "the hour Marketplace accepts a subscriber's final usage.",
      metric: this.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum' }),
      threshold: Duration.minutes(30).toSeconds(),
    });
  }

  /**
   * Rules on the default bus of the stack's region: Marketplace's own events in us-east-1, or those the forwarder
   * stack sends on from us-east-1, which arrive unchanged.
   */
  private receiveMarketplaceEvents(config: Config): Queue {
    const undeliveredEventsQueue = newDeadLetterQueue(this, 'UndeliveredEventsQueue', {
      catches: 'the Marketplace event rule targets',
      alarmName: 'marketplace-events-undelivered',
      alarmDescription:
        'EventBridge could not put a Marketplace notification into the lifecycle queue for 24 hours (the error is ' +
        "in the message's attributes, the event in its body): most likely the queue's policy. Once fixed, send each " +
        "message's body to the lifecycle queue (it has the shape the lifecycle function reads), then purge this " +
        "queue: it is no queue's dead-letter queue, so SQS cannot move its messages back.",
    });
    for (const { name, pattern } of marketplaceEventPatterns(config)) {
      new Rule(this, `Marketplace${name}Events`, {
        description: `Sends Marketplace's ${name.toLowerCase()} events to the lifecycle queue`,
        eventPattern: pattern,
        targets: [
          new SqsQueue(this.queue, {
            deadLetterQueue: undeliveredEventsQueue,
            // EventBridge's longest: an event is retried, backing off, for 24 hours before it is dead-lettered.
            retryAttempts: 185,
            maxEventAge: Duration.hours(24),
          }),
        ],
      });
    }
    return undeliveredEventsQueue;
  }

  /**
   * Every five minutes. A failed run goes nowhere: it carries no data that could be lost, the next run, five minutes
   * later, does whatever it did not, and an alarm tells when runs fail. A run EventBridge could not start at all waits
   * in a dead-letter queue, so that a sweep that never runs does not go unnoticed.
   */
  private sweepFinalMeteringWindows({ config, subscribers }: LifecycleProps): Queue {
    const sweep = new ProjectFunction(this, 'FinalMeteringWindows', {
      entry: 'lambdas/lifecycle/final-metering-windows.ts',
      serviceName: 'final-metering-windows',
      description: 'Ends the subscriptions whose final-metering window has passed',
      memorySize: 256,
      timeout: Duration.minutes(2),
      tracing: config.observability.tracing,
      failuresGo:
        'Its schedule invokes it: a failed run carries no data (the next run redoes it; alarmed as ' +
        'final-metering-windows-failed), and a run EventBridge cannot start waits in the rule target dead-letter queue.',
      environment: {
        SUBSCRIBERS_TABLE: subscribers.tableName,
        ...finalMeteringGraceVariable(config),
      },
    });
    Grant.addToPrincipal({
      grantee: sweep,
      actions: ['dynamodb:Query'],
      resourceArns: [`${subscribers.tableArn}/index/${ENDING_INDEX.indexName}`],
    });
    grantOnItems(sweep, subscribers, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], [subscribersItemPrefixes.subscriber]);
    // Lambda's own retries of a failed run would overlap the next scheduled one.
    sweep.lambda.configureAsyncInvoke({ retryAttempts: 0 });
    Validations.of(sweep).acknowledge({
      id: 'Serverless-LambdaAsyncFailureDestination',
      reason:
        'A failed sweep carries no data to keep: the next scheduled run, five minutes later, does the same work, and ' +
        'the final-metering-windows-failed alarm watches the errors. A failure destination would hold copies of an ' +
        'empty schedule event.',
    });
    const undeliveredSweeps = newDeadLetterQueue(this, 'UndeliveredSweepsQueue', {
      catches: 'the final-metering window sweep schedule target',
      alarmName: 'final-metering-windows-not-started',
      alarmDescription:
        'EventBridge could not start the final-metering window sweep for five minutes (the error is in the ' +
        "message's attributes): most likely the function's permission for EventBridge, or Lambda throttling it. " +
        'Cancelled subscriptions stay "ending" until a sweep runs; the messages themselves need no redrive.',
    });
    new Rule(this, 'FinalMeteringWindowsSchedule', {
      description: 'Ends the subscriptions whose final-metering window has passed',
      schedule: Schedule.rate(Duration.minutes(5)),
      // A sweep started later than the next one is worth nothing: give up when that one is due.
      targets: [
        new LambdaFunction(sweep.lambda, {
          deadLetterQueue: undeliveredSweeps,
          retryAttempts: 2,
          maxEventAge: Duration.minutes(5),
        }),
      ],
    });
    alarmWhenAbove(sweep, 'FailedAlarm', {
      name: 'final-metering-windows-failed',
      description:
        'A run of the final-metering window sweep failed (see the final-metering-windows log group): cancelled ' +
        'subscriptions whose final hour has passed stay "ending" in the table until a run succeeds. The access check ' +
        'already answers them as ended.',
      metric: sweep.lambda.metricErrors({ statistic: 'Sum' }),
      threshold: 0,
    });
    return undeliveredSweeps;
  }
}
