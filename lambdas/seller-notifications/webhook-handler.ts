/**
 * Calls the seller's webhook with every event on the seller's bus, signed (see `core/webhook-signature.ts`). The
 * events come through a queue: a delivery that fails (no answer in time, or any status but 2xx) is reported for that
 * message alone and retried later, each time after a longer wait; after the queue's last attempt it goes to the
 * dead-letter queue.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { QUEUE_CONSUMERS } from '../../contracts/index.ts';
import type { Clock } from '../core/clock.ts';
import { BackendError, messageOf } from '../core/errors.ts';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signWebhook } from '../core/webhook-signature.ts';

/** A webhook call that did not deliver its event: the message is tried again later. */
export class WebhookCallError extends BackendError {
  override readonly name = 'WebhookCallError';
}

/**
 * The wait before the next attempt of a delivery that failed `receiveCount` times: 30 s, doubling, at most 1 h; none
 * after the queue's last attempt, so that the message goes to the dead-letter queue (and its alarm) at once.
 */
export function retryDelaySeconds(
  receiveCount: number,
  maxReceiveCount: number = QUEUE_CONSUMERS.webhook.maxReceiveCount,
): number {
  if (receiveCount >= maxReceiveCount) return 0;
  return Math.min(3600, 30 * 2 ** Math.max(0, receiveCount - 1));
}

export interface WebhookDependencies {
  readonly url: string;
  readonly secret: () => Promise<string>;
  /** Makes a failed message visible again only after `seconds` (SQS: ChangeMessageVisibility). */
  readonly retryLater: (record: SQSRecord, seconds: number) => Promise<void>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly timeoutMs?: number;
  /** The queue's redrive setting: the receive after which a failure goes to the dead-letter queue (default: deployed). */
  readonly maxReceiveCount?: number;
}

export function createWebhookHandler(dependencies: WebhookDependencies) {
  const { logger } = dependencies;

  async function deliver(record: SQSRecord, eventId: string): Promise<void> {
    const body = record.body;
    const response = await fetch(dependencies.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [EVENT_ID_HEADER]: eventId,
        [SIGNATURE_HEADER]: signWebhook(await dependencies.secret(), body, dependencies.clock.now()),
      },
      body,
      // A redirect is not followed (the signed call would go where the seller did not say): it fails, with its status.
      redirect: 'manual',
      signal: AbortSignal.timeout(dependencies.timeoutMs ?? 10_000),
    });
    await response.body?.cancel();
    if (!response.ok) {
      const redirected = response.status >= 300 && response.status < 400 ? ' (a redirect, which is not followed)' : '';
      throw new WebhookCallError(`the webhook answered ${response.status}${redirected}`);
    }
  }

  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const batchItemFailures: { itemIdentifier: string }[] = [];
    for (const record of event.Records) {
      const delivered = deliveredEvent(record);
      try {
        await deliver(record, delivered.eventId);
      } catch (error) {
        const attempt = Number(record.attributes.ApproximateReceiveCount);
        const delay = retryDelaySeconds(attempt, dependencies.maxReceiveCount);
        logger.warn(
          delay === 0
            ? 'Webhook delivery failed for the last time; it goes to the dead-letter queue'
            : 'Webhook delivery failed; it will be retried',
          { ...delivered, messageId: record.messageId, attempt, errorMessage: messageOf(error) },
        );
        batchItemFailures.push({ itemIdentifier: record.messageId });
        await dependencies.retryLater(record, delay).catch((deferError: unknown) => {
          logger.warn('Could not defer the retry; the queue retries at its own pace', { error: String(deferError) });
        });
      }
    }
    return { batchItemFailures };
  };
}

/**
 * What names the event of a message in the log, for an operator finding whose events are stuck: the id the app sees
 * (`x-marketplace-event-id`), its type and subscriber.
 */
function deliveredEvent(record: SQSRecord): { eventId: string; detailType?: string; subscriberId?: string } {
  let event: { id?: unknown; 'detail-type'?: unknown; detail?: { subscriberId?: unknown } | null } = {};
  try {
    const parsed: unknown = JSON.parse(record.body);
    if (typeof parsed === 'object' && parsed !== null) event = parsed;
  } catch {
    // Not an event of the bus: the call says so with the body as it is.
  }
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const detailType = text(event['detail-type']);
  const subscriberId = text(event.detail?.subscriberId);
  return {
    eventId: text(event.id) ?? record.messageId,
    ...(detailType === undefined ? {} : { detailType }),
    ...(subscriberId === undefined ? {} : { subscriberId }),
  };
}
