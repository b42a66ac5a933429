/**
 * Telling the seller's app what happened to its subscribers: the seller notifier reads every write to a subscriber
 * item from the Subscribers table's stream and publishes what changed (registered, activated, entitlements changed,
 * ending, ended, failed) on the seller's bus; with `notifications.webhookUrl`, a webhook also calls the seller's
 * endpoint with every event on that bus. Reading the stream rather than the requests that wrote the items means a
 * failing bus never fails a registration or a lifecycle change.
 */
import { Duration } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SELLER_NOTIFIER_STREAM, SUBSCRIBER_SORT_KEY } from '../contracts/index.ts';
import { alarmWhenAbove } from './alarms.ts';
import type { Config } from './config.ts';
import { newDeadLetterQueue } from './dead-letter-queue.ts';
import { ProjectFunction } from './functions.ts';
import { Webhook } from './webhook.ts';

export interface SellerNotificationsProps {
  readonly config: Config;
  readonly subscribers: TableV2;
  readonly sellerBus: IEventBus;
}

export class SellerNotifications extends Construct {
  /** Stream records whose events could not be published, after every retry. */
  readonly notifierDeadLetterQueue: Queue;
  /** Only with `notifications.webhookUrl`. */
  readonly webhook?: Webhook;

  constructor(scope: Construct, id: string, props: SellerNotificationsProps) {
    super(scope, id);
    this.notifierDeadLetterQueue = this.sellerNotifier(props);
    const { webhookUrl } = props.config.notifications;
    if (webhookUrl !== undefined) {
      this.webhook = new Webhook(this, 'Webhook', {
        url: webhookUrl,
        sellerBus: props.sellerBus,
        source: props.config.events.source,
        tracing: props.config.observability.tracing,
      });
    }
  }

  private sellerNotifier({ config, subscribers, sellerBus }: SellerNotificationsProps): Queue {
    const notifier = new ProjectFunction(this, 'SellerNotifier', {
      entry: 'lambdas/seller-notifications/seller-notifier.ts',
      serviceName: 'seller-notifier',
      description:
        'Publishes an event on the seller bus for every change of a subscriber stored in the Subscribers table',
      memorySize: 256,
      timeout: Duration.seconds(30),
      tracing: config.observability.tracing,
      failuresGo:
        'It reads the Subscribers table stream: records it fails on for 12 hours go to the seller notifier ' +
        'dead-letter queue through the event source mapping on-failure destination.',
      environment: {
        EVENT_BUS_NAME: sellerBus.eventBusName,
        EVENT_SOURCE: config.events.source,
      },
    });
    sellerBus.grantPutEventsTo(notifier);

    // An on-failure message names the failed stream records (shard, sequence numbers, times), not their data: the
    // stream keeps the records for 24 hours and the table keeps the subscribers for good, so these messages say
    // which changes still need announcing.
    const deadLetterQueue = newDeadLetterQueue(this, 'SellerNotifierDeadLetterQueue', {
      catches: 'the seller notifier stream event source mapping (its on-failure destination)',
      alarmName: 'seller-notifier-dead-letters',
      alarmDescription:
        'A change of a subscriber was not announced on the seller event bus: its events failed to publish for 12 ' +
        'hours. The message names the stream records; the notifier log group\'s "not published" lines name their ' +
        'subscribers. Fix what failed, then bring the seller app up to date for those subscribers.',
    });

    notifier.lambda.addEventSource(
      new DynamoEventSource(subscribers, {
        // From the oldest record the stream holds: a mapping that is replaced misses no change.
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: SELLER_NOTIFIER_STREAM.batchSize,
        // Every write that leaves a subscriber item, the only items the seller hears about (registration and lifecycle
        // alike): the notifier itself compares the old and new images and publishes only what changed. Sessions,
        // agreements and set-aside notifications, and TTL deletions, never reach it.
        filters: [
          FilterCriteria.filter({
            eventName: FilterRule.or('INSERT', 'MODIFY'),
            // A list of values is Lambda's equality filter.
            dynamodb: { Keys: { sk: { S: [SUBSCRIBER_SORT_KEY] } } },
          }),
        ],
        reportBatchItemFailures: true,
        bisectBatchOnError: true,
        // No retry count: a failing record is retried until it is 12 hours old. What fails here is the seller bus,
        // and while it is down every change fails alike, so holding the shard holds back nothing that could succeed;
        // a count would dead-letter changes a few minutes into an EventBridge outage.
        // Twelve hours leaves the other half of the stream's 24 to replay what ends up in the dead-letter queue.
        maxRecordAge: Duration.hours(SELLER_NOTIFIER_STREAM.maxRecordAgeHours),
        onFailure: new SqsDlq(deadLetterQueue),
      }),
    );
    alarmWhenAbove(notifier, 'IteratorAgeAlarm', {
      name: 'seller-notifier-behind',
      description:
        'The seller notifier is more than ten minutes behind the Subscribers table stream: changes of subscribers ' +
        'are waiting to be announced on the seller event bus, most likely because publishing keeps failing (see the ' +
        'notifier log group). Subscriber Ending starts the final metering flush, which must finish inside the ' +
        'final-metering window. At 12 hours a record goes to the dead-letter queue.',
      metric: notifier.lambda.metric('IteratorAge', { statistic: 'Maximum' }),
      // Well inside the hour AWS accepts final usage after an end, so that someone can act before usage is lost.
      threshold: Duration.minutes(10).toMilliseconds(),
    });
    return deadLetterQueue;
  }
}
