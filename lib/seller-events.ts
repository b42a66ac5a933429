/**
 * What this backend tells the seller: its own EventBridge bus, which the seller's app subscribes to, and optionally an
 * email to the seller's admin for every buyer who registers.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import { EventBus, Rule, RuleTargetInput, type IRuleTarget } from 'aws-cdk-lib/aws-events';
import { SnsTopic } from 'aws-cdk-lib/aws-events-targets';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SELLER_EVENT } from '../contracts/index.ts';
import type { Config } from './config.ts';
import { newDeadLetterQueue } from './dead-letter-queue.ts';
import { KEPT_ONCE_DEPLOYED } from './log-retention.ts';

export interface SellerEventsProps {
  readonly events: Config['events'];
  readonly notifications: Config['notifications'];
}

export class SellerEvents extends Construct {
  readonly bus: EventBus;
  /** Registration emails that could not be handed to SNS, after every retry; only with an admin email. */
  readonly adminEmailDeadLetterQueue?: Queue;

  private readonly source: string;

  constructor(scope: Construct, id: string, props: SellerEventsProps) {
    super(scope, id);
    this.source = props.events.source;
    this.bus = new EventBus(this, 'Bus', {
      description: 'What happens to Marketplace subscribers, for the seller app to react to',
    });
    if (props.notifications.adminEmail !== undefined) {
      this.adminEmailDeadLetterQueue = this.emailAdminOnRegistration(
        props.notifications.adminEmail,
        props.events.source,
      );
    }
  }

  /**
   * The metering engine's hook for its final flush: `target` gets every `Subscriber Ending` event (its detail names
   * the subscriber and the `finalMeteringDeadline`), so the subscriber's remaining usage is metered while Marketplace
   * still accepts it.
   */
  onSubscriberEnding(id: string, target: IRuleTarget): Rule {
    return new Rule(this, id, {
      description: `Starts the final metering of every subscriber in a ${SELLER_EVENT.ending} event`,
      eventBus: this.bus,
      eventPattern: { source: [this.source], detailType: [SELLER_EVENT.ending] },
      targets: [target],
    });
  }

  private emailAdminOnRegistration(adminEmail: string, source: string): Queue {
    // SNS's AWS managed key cannot be used by EventBridge (its key policy cannot be changed to let EventBridge in).
    const key = new Key(this, 'AdminNotificationsKey', {
      description: 'Encrypts the registration emails to the seller admin while SNS holds them',
      enableKeyRotation: true,
      removalPolicy: KEPT_ONCE_DEPLOYED,
    });
    const topic = new Topic(this, 'AdminNotifications', {
      displayName: 'Marketplace buyer registrations',
      masterKey: key,
      enforceSSL: true,
    });
    // Undeliverable notifications wait here, whether EventBridge could not publish them or SNS could not deliver the
    // email (the buyer's registration itself is safe in the Subscribers table).
    const deadLetterQueue = newDeadLetterQueue(this, 'AdminNotificationsDeadLetterQueue', {
      catches: 'the admin email rule target and the admin email subscription (its redrive policy)',
      alarmName: 'admin-email-dead-letters',
      alarmDescription:
        'A registration email to the seller admin was not sent: EventBridge could not publish it to the SNS topic ' +
        'after every retry, or SNS could not deliver it to the address. The message holds the event; the ' +
        'registration itself is safe in the Subscribers table. SNS sends nothing to an unconfirmed email ' +
        'subscription, and no alarm sees that: confirm it after a deploy that sets a new address.',
    });
    topic.addSubscription(new EmailSubscription(adminEmail, { deadLetterQueue }));

    const rule = new Rule(this, 'SubscriberRegisteredToAdmin', {
      description: `Emails the seller admin about every ${SELLER_EVENT.registered} event`,
      eventBus: this.bus,
      eventPattern: { source: [source], detailType: [SELLER_EVENT.registered] },
      targets: [
        new SnsTopic(topic, {
          // The event's detail as it is, JSON: EventBridge pastes values into an input template unescaped, so a
          // company name with a quote or a backslash would break or garble a templated message.
          message: RuleTargetInput.fromEventPath('$.detail'),
          // A role rather than a topic policy for the events service: no other account's rule can publish here.
          authorizeUsingRole: true,
          deadLetterQueue,
          // Retry, backing off, for as long as EventBridge keeps an event; what still fails waits in the queue.
          retryAttempts: 20,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });
    Validations.of(rule).acknowledge({
      id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason:
        "CDK's SNS publish grant for an encrypted topic: the wildcard covers the GenerateDataKey variants SNS " +
        'may call to encrypt a message, on this topic key alone (the resource is the one key ARN).',
    });
    return deadLetterQueue;
  }
}
