/**
 * Tells the seller that a buyer has registered, by publishing a `Subscriber Registered` event on the project's event
 * bus. It reads the Subscribers table's stream, not the registration request: the buyer's registration is complete
 * once it is stored, whatever happens here. Records whose event could not be published are reported as batch item
 * failures, so Lambda retries them, and after the last retry sends them to the dead-letter queue. Delivery is at
 * least once; consumers deduplicate on `detail.subscriberId` + `detail.registeredAt`.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { PutEventsCommand, type EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { RegistrationDetails } from '../core/subscriber.ts';

export const SUBSCRIBER_REGISTERED = 'Subscriber Registered';

/** PutEvents takes at most 10 entries per call (the deployed mapping's batches are 10 records; local ones may not be). */
const ENTRIES_PER_CALL = 10;

/** `detail` of a `Subscriber Registered` event, version 1 (see the README for the schema). */
export interface SubscriberRegisteredDetail {
  readonly schemaVersion: '1';
  readonly subscriberId: string;
  readonly productCode: string;
  readonly identityModel: 'license' | 'legacy';
  readonly licenseArn?: string;
  readonly customerIdentifier?: string;
  readonly customerAWSAccountId?: string;
  readonly offerType: 'standard' | 'free-trial';
  readonly registeredAt: string;
  readonly contact: RegistrationDetails;
}

export interface RegistrationNotifierDependencies {
  readonly events: EventBridgeClient;
  readonly busName: string;
  readonly source: string;
  readonly logger: Logger;
}

interface Registered {
  readonly sequenceNumber: string;
  readonly entry: PutEventsRequestEntry;
}

export function createRegistrationNotifier(dependencies: RegistrationNotifierDependencies) {
  const { logger } = dependencies;
  return async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    const registrations = event.Records.flatMap((record) => {
      const detail = newRegistration(record);
      return detail === undefined
        ? []
        : [{ sequenceNumber: record.dynamodb?.SequenceNumber ?? '', entry: toEntry(detail) }];
    });
    const failed: string[] = [];
    for (let start = 0; start < registrations.length; start += ENTRIES_PER_CALL) {
      failed.push(...(await publish(registrations.slice(start, start + ENTRIES_PER_CALL))));
    }
    if (failed.length > 0) logger.warn('Some registrations were not published; Lambda will retry', { failed });
    return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
  };

  function toEntry(detail: SubscriberRegisteredDetail): PutEventsRequestEntry {
    return {
      EventBusName: dependencies.busName,
      Source: dependencies.source,
      DetailType: SUBSCRIBER_REGISTERED,
      Resources: [],
      Detail: JSON.stringify(detail),
    };
  }

  /** Publishes a chunk; answers the sequence numbers of the records whose events did not go out. */
  async function publish(chunk: readonly Registered[]): Promise<string[]> {
    try {
      const { Entries = [] } = await dependencies.events.send(
        new PutEventsCommand({ Entries: chunk.map((registered) => registered.entry) }),
      );
      return chunk.filter((_, index) => Entries[index]?.EventId === undefined).map((item) => item.sequenceNumber);
    } catch (error) {
      logger.error('PutEvents failed', { errorName: error instanceof Error ? error.name : 'unknown' });
      return chunk.map((item) => item.sequenceNumber);
    }
  }
}

/** The registration a stream record adds, if it is the write that completed one. */
function newRegistration(record: DynamoDBRecord): SubscriberRegisteredDetail | undefined {
  const image = (raw: unknown) => (raw === undefined ? undefined : unmarshall(raw as Record<string, AttributeValue>));
  const before = image(record.dynamodb?.OldImage);
  const after = image(record.dynamodb?.NewImage);
  const registration = after?.registration as { details: RegistrationDetails; registeredAt: string } | undefined;
  if (registration === undefined || before?.registration !== undefined || after === undefined) return undefined;
  return {
    schemaVersion: '1',
    subscriberId: after.subscriberId as string,
    productCode: after.productCode as string,
    identityModel: after.identityModel as 'license' | 'legacy',
    ...optional('licenseArn', after.licenseArn),
    ...optional('customerIdentifier', after.customerIdentifier),
    ...optional('customerAWSAccountId', after.customerAWSAccountId),
    offerType: (after.offerType as 'standard' | 'free-trial' | undefined) ?? 'standard',
    registeredAt: registration.registeredAt,
    contact: registration.details,
  };
}

function optional(name: string, value: unknown): Record<string, string> {
  return typeof value === 'string' ? { [name]: value } : {};
}
