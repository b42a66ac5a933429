/**
 * Marketplace's legacy SNS notifications: each legacy product's subscription and entitlement topics, in Marketplace's
 * account and in us-east-1, and how the lifecycle queue subscribes to them. A subscription lives in its topic's region
 * and its dead-letter queue must live there too: the main stack subscribes when it is in us-east-1 (or deployed
 * wherever the credentials point, which these notifications pin to us-east-1), the forwarder stack in us-east-1
 * otherwise.
 */
import { Arn, ArnFormat, Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Subscription, SubscriptionProtocol, Topic } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { MARKETPLACE_HOME_REGION } from '../contracts/index.ts';
import type { Config } from './config.ts';
import { newDeadLetterQueue } from './dead-letter-queue.ts';

/** The account that owns every product's Marketplace SNS topics (in us-east-1). */
const MARKETPLACE_SNS_ACCOUNT = '287250355862';

export interface LegacyTopic {
  readonly productCode: string;
  readonly kind: 'subscription' | 'entitlement';
  readonly arn: string;
}

/** Legacy topics to subscribe a queue of another region to, by its name. */
export interface RemoteSubscriptions {
  readonly topics: readonly LegacyTopic[];
  readonly queueName: string;
}

/** Whether the configuration receives the legacy SNS notifications at all. */
export function receivesLegacyNotifications(config: Config): boolean {
  return config.lifecycle.eventSources !== 'eventbridge';
}

/** Whether the main stack can subscribe itself: it is in the topics' region, or will be made to deploy there. */
export function mainStackSubscribesToLegacyTopics(config: Config): boolean {
  return config.region === undefined || config.region === MARKETPLACE_HOME_REGION;
}

/** Each legacy product's two topics, as configured or as Marketplace names them for every product. */
export function legacyTopicsOf(config: Config): LegacyTopic[] {
  return config.products
    .filter((product) => product.identityModel === 'legacy')
    .flatMap((product) => {
      const marketplaceTopic = (kind: string) =>
        `arn:aws:sns:${MARKETPLACE_HOME_REGION}:${MARKETPLACE_SNS_ACCOUNT}:aws-mp-${kind}-notification-${product.code}`;
      const arns = product.snsTopicArns ?? {
        subscription: marketplaceTopic('subscription'),
        entitlement: marketplaceTopic('entitlement'),
      };
      return (['subscription', 'entitlement'] as const).map((kind) => ({
        productCode: product.code,
        kind,
        arn: arns[kind],
      }));
    });
}

/**
 * What SNS could not deliver to the lifecycle queue, after retrying (for an SQS endpoint, for days) waits here, in the
 * topics' region.
 */
export function newUndeliveredNotificationsQueue(scope: Construct): Queue {
  return newDeadLetterQueue(scope, 'UndeliveredNotificationsQueue', {
    catches: "the subscriptions to Marketplace's legacy SNS topics (their redrive policy)",
    alarmName: 'legacy-notifications-undelivered',
    alarmDescription:
      "SNS could not deliver a Marketplace notification from a legacy product's topic to the lifecycle queue, after " +
      "retrying: most likely the queue's policy or a deleted queue. The message is the notification, as the " +
      'lifecycle function reads it: once fixed, send the messages to the lifecycle queue.',
  });
}

/** The construct id of a topic's subscription, the same in whichever stack subscribes. */
function subscriptionId(topic: LegacyTopic): string {
  return `${topic.kind}-topic-${encodeURIComponent(topic.productCode)}`;
}

/**
 * From the queue's own stack, in us-east-1: the queue owner subscribing needs no confirmation. The lifecycle function
 * reads the SNS envelope (raw delivery off), whose Timestamp dates the notification. The topics are named under
 * `scope`, which the subscriptions' logical ids derive from: moving them would replace the subscriptions.
 */
export function subscribeQueueToLegacyTopics(
  scope: Construct,
  queue: Queue,
  topics: readonly LegacyTopic[],
  deadLetterQueue: Queue,
): void {
  for (const topic of topics) {
    Topic.fromTopicArn(scope, subscriptionId(topic), topic.arn).addSubscription(
      new SqsSubscription(queue, { rawMessageDelivery: false, deadLetterQueue }),
    );
  }
}

/**
 * For subscriptions made by a stack in another region (the queue's ARN cannot be referenced there): lets each topic
 * send to the queue, from the queue's own stack.
 */
export function allowLegacyTopicsToSend(queue: Queue, topics: readonly LegacyTopic[]): void {
  for (const topic of topics) {
    queue.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('sns.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [queue.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': topic.arn } },
      }),
    );
  }
}

/**
 * From a stack in us-east-1 to the queue in another region (same account), which {@link allowLegacyTopicsToSend}
 * opened to the topics. SNS delivers across regions on its own.
 */
export function subscribeRemoteQueueToLegacyTopics(
  scope: Construct,
  queueRegion: string,
  { topics, queueName }: RemoteSubscriptions,
  deadLetterQueue: Queue,
): void {
  const queueArn = Arn.format(
    { service: 'sqs', region: queueRegion, resource: queueName, arnFormat: ArnFormat.NO_RESOURCE_NAME },
    Stack.of(scope),
  );
  for (const topic of topics) {
    new Subscription(scope, subscriptionId(topic), {
      topic: Topic.fromTopicArn(scope, `${subscriptionId(topic)}-topic`, topic.arn),
      endpoint: queueArn,
      protocol: SubscriptionProtocol.SQS,
      rawMessageDelivery: false,
      deadLetterQueue,
    });
  }
}
