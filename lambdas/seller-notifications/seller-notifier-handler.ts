/**
 * Tells the seller's app what changed, by publishing events on the seller's bus (see `core/seller-events.ts`). It
 * reads the Subscribers table's stream, not the requests that caused the writes: a registration or a lifecycle change
 * is complete once it is stored, whatever happens here. A record whose events could not all be published is reported
 * as a batch item failure, so Lambda retries it (and the records after it), and after the last retry sends it to
 * the dead-letter queue. Delivery is therefore at least once.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { PutEventsCommand, type EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { sellerEventsFor } from '../core/seller-events.ts';

/** PutEvents takes at most 10 entries per call. */
const ENTRIES_PER_CALL = 10;

export interface SellerNotifierDependencies {
  readonly events: EventBridgeClient;
  readonly busName: string;
  readonly source: string;
  readonly logger: Logger;
}

interface Entry {
  readonly sequenceNumber: string;
  readonly entry: PutEventsRequestEntry;
}

export function createSellerNotifier(dependencies: SellerNotifierDependencies) {
  const { logger } = dependencies;
  const image = (raw: unknown) => (raw === undefined ? undefined : unmarshall(raw as Record<string, AttributeValue>));

  /** Publishes a chunk; answers the sequence numbers of the records some of whose events did not go out. */
  async function publish(chunk: readonly Entry[]): Promise<string[]> {
    try {
      const { Entries = [] } = await dependencies.events.send(
        new PutEventsCommand({ Entries: chunk.map((item) => item.entry) }),
      );
      return chunk.filter((_, index) => Entries[index]?.EventId === undefined).map((item) => item.sequenceNumber);
    } catch (error) {
      logger.error('PutEvents failed', { errorName: error instanceof Error ? error.name : 'unknown' });
      return chunk.map((item) => item.sequenceNumber);
    }
  }

  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const entries: Entry[] = event.Records.flatMap((record) =>
      sellerEventsFor(image(record.dynamodb?.OldImage), image(record.dynamodb?.NewImage)).map((sellerEvent) => ({
        sequenceNumber: record.dynamodb?.SequenceNumber ?? '',
        entry: {
          EventBusName: dependencies.busName,
          Source: dependencies.source,
          DetailType: sellerEvent.detailType,
          Resources: [],
          Detail: JSON.stringify(sellerEvent.detail),
        },
      })),
    );
    const failed = new Set<string>();
    for (let start = 0; start < entries.length; start += ENTRIES_PER_CALL) {
      for (const sequenceNumber of await publish(entries.slice(start, start + ENTRIES_PER_CALL))) {
        failed.add(sequenceNumber);
      }
    }
    if (failed.size > 0)
      logger.warn('Some seller events were not published; Lambda will retry', { failed: [...failed] });
    return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
  };
}
