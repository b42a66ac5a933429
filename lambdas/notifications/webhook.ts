/** Lambda entry point of the webhook caller (queue of seller-bus events): wiring only, see `webhook-handler.ts`. */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import { systemClock } from '../core/clock.ts';
import { readEnvironment, webhookEnvironment } from '../core/environment.ts';
import { createWebhookHandler } from './webhook-handler.ts';

const environment = readEnvironment(webhookEnvironment);
const logger = new Logger({ serviceName: 'webhook' });
const sqs = new SQSClient({});

export const handler = middy(
  createWebhookHandler({
    url: environment.WEBHOOK_URL,
    // Read once, then from Powertools' cache (five minutes), so a rotated secret takes effect without a deployment.
    secret: async () => {
      const secret = await getSecret<string>(environment.WEBHOOK_SECRET_ARN);
      if (typeof secret !== 'string' || secret === '') throw new Error('The webhook secret is empty');
      return secret;
    },
    retryLater: async (record, seconds) => {
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: environment.WEBHOOK_QUEUE_URL,
          ReceiptHandle: record.receiptHandle,
          VisibilityTimeout: seconds,
        }),
      );
    },
    // The receiver checks the signature's timestamp against its own wall clock, never against Marketplace's.
    clock: systemClock,
    logger,
  }),
  // Never log the event: it carries buyers' contact details.
).use(injectLambdaContext(logger, { logEvent: false }));
