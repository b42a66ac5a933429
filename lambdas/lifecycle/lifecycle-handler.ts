/**
 * The lifecycle queue's consumer: Marketplace's EventBridge events and legacy SNS notifications, buffered in SQS. Each
 * message is parsed into what it says about a subscriber (or an agreement) and folded into the Subscribers table; a
 * subscriber whose entitlements may have changed has them read again from Marketplace. A message that cannot be a
 * Marketplace notification is set aside with its reason and never retried; a transient failure (the database, or
 * Marketplace throttling for too long) is reported for that message alone, so SQS retries it and, in the end, moves
 * it to the dead-letter queue.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { MarketplaceEntitlementServiceClient } from '@aws-sdk/client-marketplace-entitlement-service';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Clock } from '../core/clock.ts';
import type { ProductListing } from '../core/environment.ts';
import { fetchEntitlements } from '../core/lifecycle/entitlements.ts';
import type { FetchedEntitlements, LifecycleRepository } from '../core/lifecycle/lifecycle-repository.ts';
import { parseMarketplaceMessage, type MarketplaceMessage } from '../core/lifecycle/marketplace-messages.ts';
import { subscriberIdOf } from '../core/subscriber.ts';

export interface LifecycleDependencies {
  readonly lifecycle: LifecycleRepository;
  readonly entitlements: MarketplaceEntitlementServiceClient;
  readonly products: readonly ProductListing[];
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * What one notification may take at worst: a few pages of GetEntitlements, each retried with backoff. A record is not
 * started with less time left in the invocation; it goes back to the queue instead of being cut off by the timeout,
 * which would send the whole batch back, the records already applied included.
 */
export const TIME_NEEDED_PER_RECORD_MS = 15_000;

export function createLifecycleHandler(dependencies: LifecycleDependencies) {
  const { lifecycle, logger } = dependencies;

  async function apply(notification: MarketplaceMessage): Promise<void> {
    if (notification.kind === 'agreement') {
      await lifecycle.recordAgreement(notification);
      return;
    }
    const { subscriber } = notification;
    let fetched: FetchedEntitlements | undefined;
    let unreadEntitlements: { error: unknown } | undefined;
    if (notification.entitlementsChanged) {
      // Stamped before asking: the stamp says how recent the answer is, however long the asking takes.
      const fetchedAt = dependencies.clock.now();
      try {
        fetched = { entitlements: await fetchEntitlements(dependencies.entitlements, subscriber), fetchedAt };
      } catch (error) {
        unreadEntitlements = { error };
      }
    }
    // The facts are stored even when Marketplace could not be asked: no activation or end waits for its answer.
    const outcome = await lifecycle.applyToSubscriber(notification, dependencies.clock.now(), fetched);
    if (subscriber.model === 'license' && subscriber.agreementId !== undefined) {
      await lifecycle.linkAgreement(subscriber.agreementId, subscriberIdOf(subscriber));
    }
    logger.info('Lifecycle notification applied', {
      notification: notification.name,
      subscriberId: subscriberIdOf(subscriber),
      at: notification.at.toISOString(),
      outcome,
    });
    // The message is retried for its entitlements; applying its facts again changes nothing.
    if (unreadEntitlements !== undefined) throw unreadEntitlements.error;
  }

  async function handleRecord(record: SQSRecord): Promise<void> {
    const receivedAt = new Date(Number(record.attributes.SentTimestamp));
    const parsed = parseMarketplaceMessage(record.body, receivedAt, dependencies.products);
    if (parsed.outcome === 'ignored') {
      logger.info('Lifecycle notification ignored', {
        messageId: record.messageId,
        reason: parsed.reason,
        name: parsed.name,
      });
      return;
    }
    if (parsed.outcome === 'rejected') {
      logger.warn('Lifecycle notification set aside', {
        messageId: record.messageId,
        reason: parsed.reason,
        name: parsed.name,
      });
      await lifecycle.recordRejected({
        messageId: record.messageId,
        receivedAt,
        reason: parsed.reason,
        name: parsed.name,
        body: record.body,
      });
      return;
    }
    await apply(parsed.notification);
  }

  return async (event: SQSEvent, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<SQSBatchResponse> => {
    const batchItemFailures: { itemIdentifier: string }[] = [];
    for (const record of event.Records) {
      if (context.getRemainingTimeInMillis() < TIME_NEEDED_PER_RECORD_MS) {
        logger.warn('Lifecycle notification left for a later invocation: too little time left in this one', {
          messageId: record.messageId,
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
        continue;
      }
      try {
        await handleRecord(record);
      } catch (error) {
        logger.error('Lifecycle notification failed; SQS will retry it', {
          messageId: record.messageId,
          errorName: error instanceof Error ? error.name : 'unknown',
          errorMessage: error instanceof Error ? error.message : String(error),
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  };
}
