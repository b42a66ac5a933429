/** The composition root: one stack holding one construct per capability, wired together from the validated config. */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { Config } from './config.ts';
import { Registration } from './registration.ts';
import { SellerEvents } from './seller-events.ts';
import { Storage } from './storage.ts';

export interface SaasMarketplaceStackProps extends StackProps {
  readonly config: Config;
}

export class SaasMarketplaceStack extends Stack {
  readonly storage: Storage;
  readonly sellerEvents: SellerEvents;
  readonly registration: Registration;

  constructor(scope: Construct, id: string, props: SaasMarketplaceStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.storage = new Storage(this, 'Storage', { tables: config.tables });
    this.sellerEvents = new SellerEvents(this, 'SellerEvents', {
      events: config.events,
      notifications: config.notifications,
    });
    this.registration = new Registration(this, 'Registration', {
      config,
      subscribers: this.storage.subscribers,
      sellerBus: this.sellerEvents.bus,
    });

    new CfnOutput(this, 'SubscribersTableName', {
      description: 'DynamoDB table holding one item per subscriber (license)',
      value: this.storage.subscribers.tableName,
    });
    new CfnOutput(this, 'UsageTableName', {
      description: 'DynamoDB table holding hourly usage buckets and their metering ledger',
      value: this.storage.usage.tableName,
    });
    new CfnOutput(this, 'SellerEventBusName', {
      description: 'EventBridge bus where this backend publishes subscriber events for the seller app',
      value: this.sellerEvents.bus.eventBusName,
    });
    new CfnOutput(this, 'SellerEventBusArn', {
      description: 'ARN of the seller event bus (for rules and permissions in the seller app)',
      value: this.sellerEvents.bus.eventBusArn,
    });
    new CfnOutput(this, 'FulfillmentUrl', {
      description: 'Fulfillment URL to enter in the AWS Marketplace product listing',
      value: this.registration.fulfillmentUrl,
    });
    new CfnOutput(this, 'RegistrationUrl', {
      description: 'Registration page buyers are sent to after subscribing',
      value: this.registration.registrationUrl,
    });
    new CfnOutput(this, 'RegistrationNotifierDeadLetterQueueUrl', {
      description: 'Registrations whose Subscriber Registered event could not be published, after every retry',
      value: this.registration.notifierDeadLetterQueue.queueUrl,
    });
    if (this.sellerEvents.adminEmailDeadLetterQueue !== undefined) {
      new CfnOutput(this, 'AdminEmailDeadLetterQueueUrl', {
        description: 'Registration emails to the seller admin that could not be sent, after every retry',
        value: this.sellerEvents.adminEmailDeadLetterQueue.queueUrl,
      });
    }
  }
}
