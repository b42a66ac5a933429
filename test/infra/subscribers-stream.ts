/**
 * Subscribers table stream records as the runtime code produces them, and the events the seller notifier makes of
 * them: so the infra tests can hold the stack's stream filter and the rules on the seller bus against the real code
 * rather than against a copy of its shapes.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { EventBridgeClient, PutEventsCommand, PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue as StreamAttributeValue, DynamoDBRecord } from 'aws-lambda';
import { LifecycleRepository } from '../../lambdas/core/lifecycle/lifecycle-repository.ts';
import { RegistrationSessions } from '../../lambdas/core/registration-sessions.ts';
import { SubscriberRepository } from '../../lambdas/core/subscriber-repository.ts';
import { subscriberKey } from '../../lambdas/core/table-keys.ts';
import { createSellerNotifier } from '../../lambdas/seller-notifications/seller-notifier-handler.ts';

const at = new Date('2026-12-01T10:00:00.000Z');
const licenseArn = 'arn:aws:license-manager::111122223333:license:l-0123456789abcdef0123456789abcdef';
const subscriberId = `license:${licenseArn}`;
const productCode = 'analytics-pro-example';

type Item = Record<string, unknown>;

/** A subscriber item as the fulfillment URL leaves it. */
const resolvedSubscriber: Item = {
  ...subscriberKey(subscriberId),
  subscriberId,
  identityModel: 'license',
  productCode,
  licenseArn,
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

/**
 * The item an update leaves when it is the first write to its key: every attribute it sets, none it removes. Good for
 * the writes here, whose `SET` clauses name each attribute with the value `:<its name>`.
 */
function itemWrittenBy(command: UpdateCommand): Item {
  const { Key, ExpressionAttributeNames = {}, ExpressionAttributeValues = {} } = command.input;
  const attributes = Object.values(ExpressionAttributeNames)
    .filter((name) => `:${name}` in ExpressionAttributeValues)
    .map((name): [string, unknown] => [name, ExpressionAttributeValues[`:${name}`]]);
  return { ...(Key as Item), ...Object.fromEntries(attributes) };
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

/** What the lifecycle writes when Marketplace activates the license (its first write to the subscriber). */
async function activatedSubscriber(): Promise<Item> {
  const { client, sent } = recordingClient();
  await new LifecycleRepository(client, 'Subscribers', 3600).applyToSubscriber(
    {
      subscriber: { model: 'license', productCode, licenseArn, customerAWSAccountId: '444455556666' },
      facts: ['activatedAt'],
      at,
    },
    at,
  );
  return { ...resolvedSubscriber, ...itemWrittenBy(sent.at(-1) as UpdateCommand) };
}

/** What the lifecycle writes when the buyer cancels an active subscription: its final-metering window opens. */
async function endingSubscriber(activated: Item): Promise<Item> {
  const { client, sent } = recordingClient();
  const cancelledAt = new Date(at.getTime() + 24 * 3600 * 1000);
  await new LifecycleRepository(client, 'Subscribers', 3600).applyToSubscriber(
    {
      subscriber: { model: 'license', productCode, licenseArn, customerAWSAccountId: '444455556666' },
      facts: ['endRequestedAt'],
      at: cancelledAt,
    },
    cancelledAt,
  );
  return { ...activated, ...itemWrittenBy(sent.at(-1) as UpdateCommand) };
}

/**
 * The lifecycle's write that opens an active subscriber's final-metering window (the notifier publishes a
 * `Subscriber Ending` event for it), and the subscriber's id.
 */
export async function subscriptionEnding(): Promise<{ record: DynamoDBRecord; subscriberId: string }> {
  const activated = await activatedSubscriber();
  return { record: streamRecord('MODIFY', await endingSubscriber(activated), activated), subscriberId };
}

/** A session item exactly as the fulfillment URL stores it. */
async function storedSession(): Promise<Item> {
  const { client, sent } = recordingClient();
  await new RegistrationSessions(client, 'Subscribers', 60).create(subscriberId, at);
  return (sent[0] as PutCommand).input.Item ?? {};
}

/** The lifecycle's other items: an agreement it recorded and a notification it set aside. */
async function lifecycleBookkeeping(): Promise<{ agreement: Item; rejected: Item }> {
  const { client, sent } = recordingClient();
  const repository = new LifecycleRepository(client, 'Subscribers', 3600);
  await repository.recordAgreement({
    kind: 'agreement',
    agreementId: 'agmt-0123456789abcdef',
    status: 'ACTIVE',
    at,
    name: 'Purchase Agreement Created - Proposer',
  });
  await repository.recordRejected({ messageId: 'message-1', receivedAt: at, reason: 'not JSON', body: '{' });
  return { agreement: itemWrittenBy(sent[0] as UpdateCommand), rejected: (sent[1] as PutCommand).input.Item ?? {} };
}

function streamRecord(
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE',
  newImage: Item | undefined,
  oldImage?: Item,
): DynamoDBRecord {
  const image = (item: Item) => marshall(item) as Record<string, StreamAttributeValue>;
  const item = newImage ?? oldImage ?? {};
  return {
    eventName,
    eventSource: 'aws:dynamodb',
    dynamodb: {
      Keys: image({ pk: item['pk'], sk: item['sk'] }),
      SequenceNumber: `${eventName}-${Object.keys(item).length}`,
      ...(newImage === undefined ? {} : { NewImage: image(newImage) }),
      ...(oldImage === undefined ? {} : { OldImage: image(oldImage) }),
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

export interface SubscribersStream {
  /** Writes to subscriber items the notifier publishes an event for. */
  readonly announced: Record<'a registration completed' | 'a license activated', DynamoDBRecord>;
  /** A write to a subscriber item that changes nothing the seller hears about. */
  readonly subscriberResolved: DynamoDBRecord;
  /** Writes to items that are not subscribers, and a subscriber's deletion: the notifier never needs to see them. */
  readonly others: Record<string, DynamoDBRecord>;
}

export async function subscribersStream(): Promise<SubscribersStream> {
  const registered = { ...resolvedSubscriber, registration: await storedRegistration() };
  const { agreement, rejected } = await lifecycleBookkeeping();
  return {
    announced: {
      'a registration completed': streamRecord('MODIFY', registered, resolvedSubscriber),
      'a license activated': streamRecord('MODIFY', await activatedSubscriber(), resolvedSubscriber),
    },
    subscriberResolved: streamRecord('INSERT', resolvedSubscriber),
    others: {
      'a session opened': streamRecord('INSERT', await storedSession()),
      'an agreement recorded': streamRecord('INSERT', agreement),
      'a notification set aside': streamRecord('INSERT', rejected),
      'a subscriber deleted': streamRecord('REMOVE', undefined, registered),
    },
  };
}

/** The PutEvents entries the seller notifier, given this event source, sends for these stream records. */
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
 * Whether a Lambda event filter pattern matches a record. Only exact values and the `exists` operator are implemented
 * (what the stack uses): any other rule throws, so that a new filter gets a matcher here rather than a false pass.
 */
export function filterMatches(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) {
    return pattern.some((rule: unknown) => {
      if (typeof rule === 'string' || typeof rule === 'number') return value === rule;
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
