/**
 * Tells the seller's app what changed, by publishing events on the seller's bus (see `core/seller-events.ts`). It
 * reads the Subscribers table's stream, not the requests that caused the writes: a registration or a lifecycle change
 * is complete once it is stored, whatever happens here. Entries PutEvents refuses one by one (throttled, an internal
 * failure) are put again at once, alone, a few times: a record whose events could not all be published is reported as a
 * batch item failure, so Lambda retries it (and the records after it), which puts again the events that had gone out
 * too, under new ids, and after the last retry sends it to the dead-letter queue. Delivery is therefore at least once.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { PutEventsCommand, type EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { setTimeout as delay } from 'node:timers/promises';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { sellerEventsFor } from '../core/seller-events.ts';

/** PutEvents takes at most 10 entries per call. */
const ENTRIES_PER_CALL = 10;

/**
 * Puts of a chunk's entries refused one by one, the first included, before their records are failed; a whole call
 * that fails is not put again here (the SDK has retried it already).
 */
const ENTRY_ATTEMPTS = 3;
/** The pause before the second put of refused entries; it doubles before the third. */
const ENTRY_RETRY_PAUSE_MS = 200;

export interface SellerNotifierDependencies {
  readonly events: EventBridgeClient;
  readonly busName: string;
  readonly source: string;
  readonly logger: Logger;
  /** How the notifier waits before putting refused entries again (a timer by default). */
  readonly sleep?: (ms: number) => Promise<void>;
}

interface Entry {
  readonly sequenceNumber: string;
  /** Whose change it is: what the log names for a record that failed, since its dead letter names only the record. */
  readonly subscriberId: string;
  readonly entry: PutEventsRequestEntry;
}

export function createSellerNotifier(dependencies: SellerNotifierDependencies) {
  const { logger } = dependencies;
  const sleep = dependencies.sleep ?? ((ms: number) => delay(ms));
  const image = (raw: unknown) => (raw === undefined ? undefined : unmarshall(raw as Record<string, AttributeValue>));

  /** Puts entries once; answers those that did not go out, and whether the whole call failed. */
  async function put(entries: readonly Entry[]): Promise<{ refused: readonly Entry[]; callFailed: boolean }> {
    try {
      const { Entries = [] } = await dependencies.events.send(
        new PutEventsCommand({ Entries: entries.map((item) => item.entry) }),
      );
      return { refused: entries.filter((_, index) => Entries[index]?.EventId === undefined), callFailed: false };
    } catch (error) {
      logger.error('PutEvents failed', { errorName: error instanceof Error ? error.name : 'unknown' });
      return { refused: entries, callFailed: true };
    }
  }

  /** Publishes a chunk; answers the entries that did not go out. */
  async function publish(chunk: readonly Entry[]): Promise<readonly Entry[]> {
    let pending = chunk;
    for (let attempt = 1; pending.length > 0 && attempt <= ENTRY_ATTEMPTS; attempt++) {
      if (attempt > 1) await sleep(ENTRY_RETRY_PAUSE_MS * 2 ** (attempt - 2));
      const { refused, callFailed } = await put(pending);
      pending = refused;
      if (callFailed) break;
    }
    return pending;
  }

  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const entries: Entry[] = event.Records.flatMap((record) =>
      sellerEventsFor(image(record.dynamodb?.OldImage), image(record.dynamodb?.NewImage)).map((sellerEvent) => ({
        sequenceNumber: record.dynamodb?.SequenceNumber ?? '',
        subscriberId: sellerEvent.detail.subscriberId,
        entry: {
          EventBusName: dependencies.busName,
          Source: dependencies.source,
          DetailType: sellerEvent.detailType,
          Resources: [],
          Detail: JSON.stringify(sellerEvent.detail),
        },
      })),
    );
    // Sequence number to subscriber id: the dead-letter message of a record Lambda gives up on names only its sequence
    // numbers, so this log line is where an operator finds whose change the seller's app missed.
    const failed = new Map<string, string>();
    for (let start = 0; start < entries.length; start += ENTRIES_PER_CALL) {
      for (const { sequenceNumber, subscriberId } of await publish(entries.slice(start, start + ENTRIES_PER_CALL))) {
        failed.set(sequenceNumber, subscriberId);
      }
    }
    if (failed.size > 0) {
      logger.warn('Some seller events were not published; Lambda will retry', {
        failed: [...failed].map(([sequenceNumber, subscriberId]) => ({ sequenceNumber, subscriberId })),
      });
    }
    return { batchItemFailures: [...failed.keys()].map((itemIdentifier) => ({ itemIdentifier })) };
  };
}
