/**
 * A small stack in us-east-1 for a deployment in another region, where Marketplace's notifications start. Its rules
 * send the EventBridge notifications the lifecycle acts on (Marketplace puts them on the default bus of us-east-1
 * only), unchanged, to the default bus of the deployment's region (same account), where the lifecycle's own rules match
 * them. It subscribes the lifecycle queue to the legacy products' SNS topics, so that the subscriptions' dead-letter
 * queue can be in the topics' region, as SNS requires. Its alarms notify a topic of its own: CloudWatch notifies topics
 * of the alarm's region only.
 */
import { Arn, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { EventBus, Rule } from 'aws-cdk-lib/aws-events';
import { EventBus as EventBusTarget } from 'aws-cdk-lib/aws-events-targets';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { MARKETPLACE_HOME_REGION } from '../contracts/index.ts';
import { AlarmTopic, type AlarmRecipients } from './alarm-topic.ts';
import { newDeadLetterQueue } from './dead-letter-queue.ts';
import type { MarketplaceEventSelection } from './marketplace-events.ts';
import {
  newUndeliveredNotificationsQueue,
  subscribeRemoteQueueToLegacyTopics,
  type RemoteSubscriptions,
} from './marketplace-topics.ts';

export interface MarketplaceEventForwarderProps extends StackProps {
  /** The region the main stack, and its lifecycle, is deployed to. */
  readonly destinationRegion: string;
  /** The EventBridge notifications to forward; none when the lifecycle receives the legacy SNS notifications only. */
  readonly selections: readonly MarketplaceEventSelection[];
  /** The legacy products' topics to subscribe the main stack's lifecycle queue to, if it receives them. */
  readonly legacySubscriptions?: RemoteSubscriptions;
  readonly alarmRecipients: AlarmRecipients;
}

export class MarketplaceEventForwarder extends Stack {
  readonly alarmTopic: AlarmTopic;

  constructor(scope: Construct, id: string, props: MarketplaceEventForwarderProps) {
    const { destinationRegion, selections, legacySubscriptions, alarmRecipients, ...stackProps } = props;
    super(scope, id, { ...stackProps, env: { ...stackProps.env, region: MARKETPLACE_HOME_REGION } });
    this.alarmTopic = new AlarmTopic(this, 'Alarms', alarmRecipients);
    new CfnOutput(this, 'AlarmTopicArn', {
      description:
        `The topic the alarms of this stack notify. CloudWatch notifies topics of the alarm's region only: an ` +
        `alarmTopicArn outside ${MARKETPLACE_HOME_REGION} is not notified, subscribe its endpoint here too`,
      value: this.alarmTopic.topic.topicArn,
    });
    if (selections.length > 0) this.forwardEvents(destinationRegion, selections);
    if (legacySubscriptions !== undefined) {
      const undelivered = newUndeliveredNotificationsQueue(this);
      subscribeRemoteQueueToLegacyTopics(this, destinationRegion, legacySubscriptions, undelivered);
      new CfnOutput(this, 'UndeliveredNotificationsQueueUrl', {
        description: `Notifications from Marketplace's legacy SNS topics that could not be delivered to the lifecycle queue in ${destinationRegion}`,
        value: undelivered.queueUrl,
      });
    }
  }

  private forwardEvents(destinationRegion: string, selections: readonly MarketplaceEventSelection[]): void {
    const destination = EventBus.fromEventBusArn(
      this,
      'DestinationDefaultBus',
      // The account is this stack's own: the main stack is deployed with the same credentials.
      Arn.format(
        { service: 'events', region: destinationRegion, resource: 'event-bus', resourceName: 'default' },
        this,
      ),
    );
    // One role for every rule: it may put events on the destination bus and nowhere else.
    const role = new Role(this, 'ForwardingRole', {
      assumedBy: new ServicePrincipal('events.amazonaws.com'),
      description: `Forwards AWS Marketplace notifications to the default event bus in ${destinationRegion}`,
    });
    const deadLetterQueue = newDeadLetterQueue(this, 'UnforwardedEventsQueue', {
      catches: 'the Marketplace event forwarding rule targets',
      alarmName: 'marketplace-events-not-forwarded',
      alarmDescription:
        `EventBridge could not forward a Marketplace notification from ${MARKETPLACE_HOME_REGION} to the default ` +
        `bus in ${destinationRegion} for 24 hours (the error is in the message's attributes, the event in its ` +
        "body). The subscriber's lifecycle missed it: send the message body to the lifecycle queue once the cause " +
        'is fixed.',
    });
    for (const { name, pattern } of selections) {
      new Rule(this, `Forward${name}Events`, {
        description: `Forwards Marketplace's ${name.toLowerCase()} events to ${destinationRegion}`,
        eventPattern: pattern,
        // EventBridge retries a bus target for 24 hours on its own (CDK takes no retry policy for one).
        targets: [new EventBusTarget(destination, { role, deadLetterQueue })],
      });
    }
    new CfnOutput(this, 'UnforwardedEventsQueueUrl', {
      description: `Marketplace notifications that could not be forwarded to ${destinationRegion}, after every retry`,
      value: deadLetterQueue.queueUrl,
    });
  }
}
