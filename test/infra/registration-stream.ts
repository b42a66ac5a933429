/**
 * Subscribers table stream records as the runtime code produces them, and the events the registration notifier makes
 * of them: so the infra tests can hold the stack's stream filter and admin email rule against the real code rather
 * than against a copy of its shapes.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { EventBridgeClient, PutEventsCommand, PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue as StreamAttributeValue, DynamoDBRecord } from 'aws-lambda';
import { RegistrationSessions } from '../../lambdas/core/registration-sessions.ts';
import { SubscriberRepository } from '../../lambdas/core/subscriber-repository.ts';
import { subscriberKey } from '../../lambdas/core/table-keys.ts';
import { createSellerNotifier } from '../../lambdas/notifications/seller-notifier-handler.ts';

const at = new Date('2026-12-01T10:00:00.000Z');
const subscriberId = 'license:arn:aws:license-manager::111122223333:license:l-0123456789abcdef0123456789abcdef';

/** A subscriber item as the fulfillment URL leaves it. */
const resolvedSubscriber = {
  ...subscriberKey(subscriberId),
  subscriberId,
  identityModel: 'license',
  productCode: 'analytics-pro-example',
  licenseArn: subscriberId.slice('license:'.length),
  customerAWSAccountId: '444455556666',
  offerType: 'standard',
  resolvedFirstAt: at.toISOString(),
  resolvedLastAt: at.toISOString(),
};

/** A document client that answers every command with nothing and remembers what it was sent. */
function recordingClient() {
  const sent: (PutCommand | UpdateCommand)[] = [];
  const client = {
    send: (command: PutCommand | UpdateCommand) => {
      sent.push(command);
      return Promise.resolve({});
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, sent };
}

/** The `registration` attribute exactly as the registration page stores it. */
async function storedRegistration(): Promise<unknown> {
  const { client, sent } = recordingClient();
  await new SubscriberRepository(client, 'Subscribers').completeRegistration(
    subscriberId,
    { company: 'Example Corp', contactName: 'Dana Buyer', email: 'dana@example.com' },
    at,
  );
  return (sent[0] as UpdateCommand).input.ExpressionAttributeValues?.[':registration'];
}

/** A session item exactly as the fulfillment URL stores it. */
async function storedSession(): Promise<Record<string, unknown>> {
  const { client, sent } = recordingClient();
  await new RegistrationSessions(client, 'Subscribers', 60).create(subscriberId, at);
  return (sent[0] as PutCommand).input.Item ?? {};
}

function streamRecord(
  eventName: 'INSERT' | 'MODIFY',
  newImage: Record<string, unknown>,
  oldImage?: Record<string, unknown>,
): DynamoDBRecord {
  const image = (item: Record<string, unknown>) => marshall(item) as Record<string, StreamAttributeValue>;
  return {
    eventName,
    eventSource: 'aws:dynamodb',
    dynamodb: {
      SequenceNumber: `${eventName}-${Object.keys(newImage).length}`,
      NewImage: image(newImage),
      ...(oldImage === undefined ? {} : { OldImage: image(oldImage) }),
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

export interface SubscribersStream {
  /** The write that completes a buyer's registration: the one record the notifier acts on. */
  readonly registrationCompleted: DynamoDBRecord;
  /** Writes the notifier has nothing to say about. */
  readonly others: Record<string, DynamoDBRecord>;
}

export async function subscribersStream(): Promise<SubscribersStream> {
  const registered = { ...resolvedSubscriber, registration: await storedRegistration() };
  return {
    registrationCompleted: streamRecord('MODIFY', registered, resolvedSubscriber),
    others: {
      'a subscriber resolved': streamRecord('INSERT', resolvedSubscriber),
      'a session opened': streamRecord('INSERT', await storedSession()),
    },
  };
}

/** The PutEvents entries the registration notifier, given this event source, sends for these stream records. */
export async function publishedEntries(
  records: readonly DynamoDBRecord[],
  source: string,
): Promise<PutEventsRequestEntry[]> {
  const entries: PutEventsRequestEntry[] = [];
  const events = {
    send: (command: PutEventsCommand) => {
      const sent = command.input.Entries ?? [];
      entries.push(...sent);
      return Promise.resolve({ Entries: sent.map((_, index) => ({ EventId: `event-${index}` })) });
    },
  } as unknown as EventBridgeClient;
  const notify = createSellerNotifier({
    events,
    busName: 'seller-bus',
    source,
    logger: new Logger({ serviceName: 'infra-test', logLevel: 'SILENT' }),
  });
  const response = await notify({ Records: [...records] });
  if (response.batchItemFailures.length > 0) throw new Error('the notifier reported failures for a fake bus');
  return entries;
}

/**
 * Whether a Lambda event filter pattern matches a record. Only the `exists` operator is implemented (the one the
 * stack uses): any other pattern throws, so that a new filter gets a matcher here rather than a false pass.
 */
export function filterMatches(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) {
    return pattern.some((rule: unknown) => {
      if (typeof rule !== 'object' || rule === null || !('exists' in rule) || Object.keys(rule).length !== 1) {
        throw new Error(`filterMatches cannot evaluate the rule ${JSON.stringify(rule)}`);
      }
      // `exists` applies to leaves only (Lambda's rule): an object here is not a leaf, so it does not exist.
      const isLeaf = value !== undefined && (typeof value !== 'object' || value === null);
      return rule.exists === isLeaf;
    });
  }
  if (typeof pattern !== 'object' || pattern === null) throw new Error(`not a filter pattern: ${String(pattern)}`);
  return Object.entries(pattern).every(([key, nested]) =>
    filterMatches(
      nested,
      typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined,
    ),
  );
}
