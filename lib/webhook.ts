/**
 * Calls the seller's HTTPS endpoint with every event on the seller's bus, signed with a key kept in Secrets Manager
 * (the seller reads the same secret to verify). The events wait in a queue, so a slow or failing endpoint is retried
 * (the function backs off per message) without holding anything else back, and what still fails after ten attempts
 * waits in a dead-letter queue.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import { Rule, type IEventBus } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Grant } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { newDeadLetterQueue } from './dead-letter-queue.ts';
import { ProjectFunction } from './functions.ts';
import { newWorkQueue } from './work-queue.ts';
import { QUEUE_CONSUMERS } from '../contracts/index.ts';

export interface WebhookProps {
  /** The seller's HTTPS endpoint. */
  readonly url: string;
  readonly sellerBus: IEventBus;
  /** The `source` of the events this backend publishes on the seller's bus. */
  readonly source: string;
  /** X-Ray tracing of the caller function (`observability.tracing`). */
  readonly tracing: boolean;
}

/** Each call waits 10 s at most (see `webhook-handler.ts`) and a batch is delivered one call after another. */
const CONSUMER = QUEUE_CONSUMERS.webhook;
const TIMEOUT = Duration.seconds(CONSUMER.functionTimeoutSeconds);

export class Webhook extends Construct {
  readonly signingSecret: Secret;
  /** The seller events waiting for their call to the endpoint. */
  readonly queue: Queue;
  /** Events the endpoint did not take after ten attempts. */
  readonly deadLetterQueue: Queue;
  /** Events EventBridge could not put in the webhook queue, after every retry. */
  readonly undeliveredEventsQueue: Queue;

  constructor(scope: Construct, id: string, props: WebhookProps) {
    super(scope, id);
    this.signingSecret = new Secret(this, 'SigningSecret', {
      description: 'Key of the HMAC-SHA256 signatures on the webhook calls to the seller app',
      // Letters and digits only (64 of them, about 380 bits): no character that needs quoting in a shell, a
      // configuration file or an environment variable of the seller's app.
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    Validations.of(this.signingSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        "The key is shared with the seller's app, which verifies each call's signature with it and accepts one key " +
        'at a time: a rotation the app does not take part in would make it reject every call until it reads the ' +
        'new key. Rotate it by hand, in step with the app (the function picks a new value up within five minutes).',
    });

    const { queue, deadLetterQueue } = newWorkQueue(this, 'Queue', {
      consumerTimeout: TIMEOUT,
      // The function defers each retry (30 s, doubling, at most an hour): ten attempts span about three hours.
      maxReceiveCount: CONSUMER.maxReceiveCount,
      deadLetters: {
        catches: 'the webhook queue (its redrive policy, after ten receives)',
        alarmName: 'webhook-dead-letters',
        alarmDescription:
          "An event on the seller bus did not reach the seller's webhook after ten attempts over about three hours: " +
          'the endpoint refused it, failed or did not answer within 10 seconds (see the webhook log group). The ' +
          'message is the event; once the endpoint works, move the messages back to the webhook queue (SQS redrive).',
      },
    });
    this.queue = queue;
    this.deadLetterQueue = deadLetterQueue;
    this.undeliveredEventsQueue = newDeadLetterQueue(this, 'UndeliveredEventsQueue', {
      catches: 'the webhook rule target',
      alarmName: 'webhook-events-undelivered',
      alarmDescription:
        'EventBridge could not put an event of the seller bus into the webhook queue for 24 hours (the error is in ' +
        "the message's attributes, the event in its body): most likely the queue's policy. The event never reached " +
        'the webhook.',
    });
    new Rule(this, 'SellerEventsToWebhook', {
      description: `Sends every event of source ${props.source} on the seller bus to the webhook queue`,
      eventBus: props.sellerBus,
      eventPattern: { source: [props.source] },
      targets: [
        new SqsQueue(queue, {
          deadLetterQueue: this.undeliveredEventsQueue,
          // EventBridge's longest: an event is retried, backing off, for 24 hours before it is dead-lettered.
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });

    const caller = new ProjectFunction(this, 'WebhookCaller', {
      entry: 'lambdas/seller-notifications/webhook.ts',
      serviceName: 'webhook',
      description: "Calls the seller app's webhook, signed, with every event on the seller bus",
      memorySize: 256,
      timeout: TIMEOUT,
      tracing: props.tracing,
      failuresGo:
        'It consumes the webhook queue: an event it fails ten times moves to the webhook dead-letter queue by the ' +
        "queue's redrive policy.",
      environment: {
        WEBHOOK_URL: props.url,
        WEBHOOK_SECRET_ARN: this.signingSecret.secretArn,
        WEBHOOK_QUEUE_URL: queue.queueUrl,
      },
    });
    // Not grantRead: that adds DescribeSecret, which the function never calls.
    Grant.addToPrincipal({
      grantee: caller,
      actions: ['secretsmanager:GetSecretValue'],
      resourceArns: [this.signingSecret.secretArn],
    });
    // Consuming the queue includes sqs:ChangeMessageVisibility, which the function uses to defer a failed retry.
    caller.lambda.addEventSource(
      new SqsEventSource(queue, {
        batchSize: CONSUMER.batchSize,
        reportBatchItemFailures: true,
        // Two batches at a time at most: the seller's endpoint is not flooded when a backlog clears.
        maxConcurrency: CONSUMER.maxConcurrency,
      }),
    );
    Validations.of(caller).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason:
        'Lambda takes no on-failure destination for an SQS event source: the webhook queue redrive policy moves an ' +
        'event the function failed ten times to the webhook dead-letter queue.',
    });
  }
}
