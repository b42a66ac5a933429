/**
 * A small stack in us-east-1 for a deployment in another region: Marketplace puts its EventBridge notifications on the
 * default bus of us-east-1 only, and these rules send the ones the lifecycle acts on, unchanged, to the default bus of
 * the deployment's region (same account), where the lifecycle's own rules match them.
 */
import { Arn, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { EventBus, Rule } from 'aws-cdk-lib/aws-events';
import { EventBus as EventBusTarget } from 'aws-cdk-lib/aws-events-targets';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { newDeadLetterQueue } from './dead-letter-queue.ts';
import { MARKETPLACE_EVENTS_REGION, type MarketplaceEventSelection } from './marketplace-events.ts';

export interface MarketplaceEventForwarderProps extends StackProps {
  /** The region the main stack, and its lifecycle, is deployed to. */
  readonly destinationRegion: string;
  readonly selections: readonly MarketplaceEventSelection[];
}

export class MarketplaceEventForwarder extends Stack {
  constructor(scope: Construct, id: string, props: MarketplaceEventForwarderProps) {
    const { destinationRegion, selections, ...stackProps } = props;
    super(scope, id, { ...stackProps, env: { ...stackProps.env, region: MARKETPLACE_EVENTS_REGION } });
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
        `EventBridge could not forward a Marketplace notification from ${MARKETPLACE_EVENTS_REGION} to the default ` +
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
