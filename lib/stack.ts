/** The composition root: one stack holding one construct per capability, wired together from the validated config. */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { AccessCheck } from './access-check.ts';
import { AlarmTopic } from './alarm-topic.ts';
import { ProjectFunction } from './functions.ts';
import { Api } from './api.ts';
import { fulfillmentRoute, registrationPageRoute, subscriberAccessRoute, usageRoute } from './api-routes.ts';
import type { Config } from './config.ts';
import { Lifecycle } from './lifecycle.ts';
import { Metering } from './metering.ts';
import { Registration } from './registration.ts';
import { SellerEvents } from './seller-events.ts';
import { SellerNotifications } from './seller-notifications.ts';
import { Storage } from './storage.ts';

export interface SaasMarketplaceStackProps extends StackProps {
  readonly config: Config;
}

export class SaasMarketplaceStack extends Stack {
  readonly alarmTopic: AlarmTopic;
  readonly storage: Storage;
  readonly sellerEvents: SellerEvents;
  readonly registration: Registration;
  readonly accessCheck: AccessCheck;
  readonly api: Api;
  readonly sellerNotifications: SellerNotifications;
  readonly lifecycle: Lifecycle;
  readonly metering: Metering;

  constructor(scope: Construct, id: string, props: SaasMarketplaceStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.alarmTopic = new AlarmTopic(this, 'Alarms', config.observability);
    this.storage = new Storage(this, 'Storage', { tables: config.tables });
    const subscribers = this.storage.subscribers;
    this.sellerEvents = new SellerEvents(this, 'SellerEvents', {
      events: config.events,
      notifications: config.notifications,
    });
    this.registration = new Registration(this, 'Registration', { config, subscribers });
    this.accessCheck = new AccessCheck(this, 'AccessCheck', { config, subscribers });
    this.metering = new Metering(this, 'Metering', {
      config,
      subscribers,
      usage: this.storage.usage,
      sellerEvents: this.sellerEvents,
    });
    this.api = new Api(this, 'Api', {
      settings: config.api,
      tracing: config.observability.tracing,
      routeFunctions: new Map([
        ...this.registration.routeFunctions,
        ...this.accessCheck.routeFunctions,
        ...this.metering.routeFunctions,
      ]),
    });
    this.sellerNotifications = new SellerNotifications(this, 'SellerNotifications', {
      config,
      subscribers,
      sellerBus: this.sellerEvents.bus,
    });
    this.lifecycle = new Lifecycle(this, 'Lifecycle', { config, subscribers });
    this.outputs();
  }

  private outputs(): void {
    const output = (id: string, description: string, value: string) => new CfnOutput(this, id, { description, value });
    output(
      'AlarmTopicArn',
      'SNS topic every alarm of the stack notifies when it goes off and when it clears: subscribe your pager or chat',
      this.alarmTopic.topic.topicArn,
    );
    output(
      'SubscribersTableName',
      'DynamoDB table holding one item per subscriber (license)',
      this.storage.subscribers.tableName,
    );
    output(
      'UsageTableName',
      'DynamoDB table holding hourly usage buckets and their metering ledger',
      this.storage.usage.tableName,
    );
    output(
      'SellerEventBusName',
      'EventBridge bus where this backend publishes subscriber events for the seller app',
      this.sellerEvents.bus.eventBusName,
    );
    output(
      'SellerEventBusArn',
      'ARN of the seller event bus (for rules and permissions in the seller app)',
      this.sellerEvents.bus.eventBusArn,
    );
    output(
      'FulfillmentUrl',
      'Fulfillment URL to enter in the AWS Marketplace product listing',
      this.api.urlOf(fulfillmentRoute),
    );
    output(
      'RegistrationUrl',
      'Registration page buyers are sent to after subscribing',
      this.api.urlOf(registrationPageRoute),
    );
    output(
      'SubscriberAccessUrl',
      "The seller app's access check: GET it, signed with SigV4, with {id} the URL-encoded subscriber id",
      this.api.urlOf(subscriberAccessRoute),
    );
    output(
      'SubscriberAccessInvokeArn',
      "Allow execute-api:Invoke on this ARN in the seller app's IAM policy to let it call the access check",
      this.api.invokeArnOf(subscriberAccessRoute, 'GET'),
    );
    output(
      'UsageUrl',
      'Where the seller app records usage: POST {"events":[...]}, signed with SigV4',
      this.api.urlOf(usageRoute),
    );
    output(
      'UsageInvokeArn',
      "Allow execute-api:Invoke on this ARN in the seller app's IAM policy to let it record usage",
      this.api.invokeArnOf(usageRoute, 'POST'),
    );
    output(
      'MeteringRunStateMachineArn',
      'Step Functions state machine of the hourly metering run: its failed executions say why usage stayed pending',
      this.metering.runStateMachine.stateMachineArn,
    );
    output(
      'MeteringDeadLetterQueueUrl',
      'Final-metering runs that failed, and metering triggers EventBridge could not deliver; their usage stays pending',
      this.metering.deadLetterQueue.queueUrl,
    );
    output(
      'SellerNotifierDeadLetterQueueUrl',
      'Subscriber changes whose seller events could not be published, after every retry',
      this.sellerNotifications.notifierDeadLetterQueue.queueUrl,
    );
    if (this.sellerEvents.adminEmailDeadLetterQueue !== undefined) {
      output(
        'AdminEmailDeadLetterQueueUrl',
        'Registration emails to the seller admin that could not be sent, after every retry',
        this.sellerEvents.adminEmailDeadLetterQueue.queueUrl,
      );
    }
    const { webhook } = this.sellerNotifications;
    if (webhook !== undefined) {
      output(
        'WebhookSigningSecretArn',
        'Secrets Manager secret holding the key the webhook calls are signed with (read it to verify them)',
        webhook.signingSecret.secretArn,
      );
      output(
        'WebhookQueueUrl',
        'Seller events waiting for their webhook call (where undelivered ones are sent again)',
        webhook.queue.queueUrl,
      );
      output(
        'WebhookDeadLetterQueueUrl',
        'Seller events the webhook endpoint did not take after ten attempts',
        webhook.deadLetterQueue.queueUrl,
      );
      output(
        'WebhookUndeliveredEventsQueueUrl',
        'Seller events EventBridge could not put in the webhook queue, after every retry',
        webhook.undeliveredEventsQueue.queueUrl,
      );
    }
    output(
      'LifecycleQueueUrl',
      "Marketplace's notifications waiting for the lifecycle function (where undelivered ones are sent again)",
      this.lifecycle.queue.queueUrl,
    );
    output(
      'LifecycleDeadLetterQueueUrl',
      'Marketplace notifications the lifecycle function failed on ten times',
      this.lifecycle.deadLetterQueue.queueUrl,
    );
    output(
      'UndeliveredSweepsQueueUrl',
      'Scheduled final-metering window sweeps EventBridge could not start',
      this.lifecycle.undeliveredSweepsQueue.queueUrl,
    );
    if (this.lifecycle.undeliveredNotificationsQueue !== undefined) {
      output(
        'UndeliveredNotificationsQueueUrl',
        "Notifications from Marketplace's legacy SNS topics that could not be delivered to the lifecycle queue",
        this.lifecycle.undeliveredNotificationsQueue.queueUrl,
      );
    }
    if (this.lifecycle.undeliveredEventsQueue !== undefined) {
      output(
        'MarketplaceEventsUndeliveredQueueUrl',
        'Marketplace EventBridge notifications that could not be put in the lifecycle queue, after every retry',
        this.lifecycle.undeliveredEventsQueue.queueUrl,
      );
    }
    // Every function, found rather than listed, so that a function added later has its output too.
    for (const projectFunction of this.node.findAll().filter((node) => node instanceof ProjectFunction)) {
      output(
        `${projectFunction.node.id}LogGroupName`,
        `Log group of the ${projectFunction.serviceName} function (aws logs tail <name>)`,
        projectFunction.logGroup.logGroupName,
      );
    }
  }
}
