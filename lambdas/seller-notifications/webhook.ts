/** Lambda entry point of the webhook caller (queue of seller-bus events): wiring only, see `webhook-handler.ts`. */
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import { systemClock } from '../core/clock.ts';
import { readEnvironment, webhookEnvironment } from '../core/environment.ts';
import { lambdaRuntime } from '../core/function-runtime.ts';
import { observabilityOf, observed } from '../core/observed-handler.ts';
import { createWebhookHandler, WebhookCallError } from './webhook-handler.ts';

const environment = readEnvironment(webhookEnvironment);
const observability = observabilityOf('webhook', lambdaRuntime, environment.POWERTOOLS_TRACE_ENABLED);
const { logger, tracer } = observability;
const sqs = tracer.captureAWSv3Client(new SQSClient({}));
// Powertools' own provider, as getSecret uses, on a client of ours so that its calls are traced.
const WEBHOOK_SECRET_CACHE_SECONDS = 300;
const secrets = new SecretsProvider({ awsSdkV3Client: tracer.captureAWSv3Client(new SecretsManagerClient({})) });

export const handler = observed(
  createWebhookHandler({
    url: environment.WEBHOOK_URL,
    // Read once, then from Powertools' cache for five minutes (its default is five seconds), so a rotated secret
    // takes effect without a deployment, as the runbook says, without a Secrets Manager call per webhook call.
    secret: async () => {
      const secret = await secrets.get(environment.WEBHOOK_SECRET_ARN, { maxAge: WEBHOOK_SECRET_CACHE_SECONDS });
      if (typeof secret !== 'string' || secret === '') throw new WebhookCallError('The webhook secret is empty');
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
  observability,
);
