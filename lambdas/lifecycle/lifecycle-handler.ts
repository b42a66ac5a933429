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
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { Clock } from '../core/clock.ts';
import type { ProductListing } from '../core/environment.ts';
import { fetchEntitlements } from '../core/lifecycle/entitlements.ts';
import type { LifecycleRepository } from '../core/lifecycle/lifecycle-repository.ts';
import { parseNotification, type Notification } from '../core/lifecycle/notifications.ts';
import { subscriberIdOf } from '../core/subscriber.ts';

export interface LifecycleDependencies {
  readonly lifecycle: LifecycleRepository;
  readonly entitlements: MarketplaceEntitlementServiceClient;
  readonly products: readonly ProductListing[];
  readonly clock: Clock;
  readonly logger: Logger;
}

export function createLifecycleHandler(dependencies: LifecycleDependencies) {
  const { lifecycle, logger } = dependencies;

  async function apply(notification: Notification): Promise<void> {
    if (notification.kind === 'agreement') {
      await lifecycle.recordAgreement(notification);
      return;
    }
    const { subscriber } = notification;
    const fetched = notification.entitlementsChanged
      ? {
          entitlements: await fetchEntitlements(dependencies.entitlements, subscriber),
          fetchedAt: dependencies.clock.now(),
        }
      : undefined;
    const outcome = await lifecycle.applyToSubscriber(notification, fetched);
    if (subscriber.model === 'license' && subscriber.agreementId !== undefined) {
      await lifecycle.linkAgreement(subscriber.agreementId, subscriberIdOf(subscriber));
    }
    logger.info('Lifecycle notification applied', {
      notification: notification.name,
      subscriberId: subscriberIdOf(subscriber),
      at: notification.at.toISOString(),
      outcome,
    });
  }

  async function handleRecord(record: SQSRecord): Promise<void> {
    const receivedAt = new Date(Number(record.attributes.SentTimestamp));
    const parsed = parseNotification(record.body, receivedAt, dependencies.products);
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

  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const batchItemFailures: { itemIdentifier: string }[] = [];
    for (const record of event.Records) {
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
