/**
 * The local stack for a test file: the deployed functions' wiring behind the local gateway, the stream poller and the
 * event bus, on the shared DynamoDB Local (tables under this file's own prefix) and an in-process simulator.
 * Marketplace's lifecycle notifications reach the stack only when a file asks for them (`marketplaceNotifications:
 * true`): without them a subscriber stays as the buyer's arrival left it, which the registration tests rely on.
 */
import { DynamoDBDocumentClient, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { loadLocalConfig } from '../../local/config.ts';
import { createDynamoDbClient } from '../../local/dynamodb/launcher.ts';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/local-stack.ts';
import { SimulatorControl } from '../../simulator/control-client.ts';
import { subscriberKey } from '../../lambdas/core/table-keys.ts';

export interface LocalStackHarness {
  readonly stack: LocalStack;
  readonly control: SimulatorControl;
  readonly documents: DynamoDBDocumentClient;
  /** Every item of the Subscribers table, for assertions on what was (and was not) stored. */
  subscriberItems(): Promise<Record<string, unknown>[]>;
  /**
   * Sets attributes of a subscriber item as the lifecycle function writes them (`subscriptionStatus`, `lifecycle`,
   * ...), for tests of a stack that hears no Marketplace notifications.
   */
  writeSubscriber(subscriberId: string, attributes: Readonly<Record<string, unknown>>): Promise<void>;
}

/**
 * `functionsReach`, when given, is where the stack's functions reach DynamoDB, given the shared DynamoDB Local's
 * endpoint: a proxy in front of it, for example (the harness itself, and the tables' creation, go to it directly).
 */
export function useLocalStack(
  options: Partial<Omit<LocalStackOptions, 'dynamoDb'>> = {},
  functionsReach?: (endpoint: string) => Promise<string>,
): LocalStackHarness {
  const endpoint = inject('dynamodbEndpoint');
  const client = createDynamoDbClient(endpoint);
  const documents = DynamoDBDocumentClient.from(client);
  let stack: LocalStack | undefined;
  let control: SimulatorControl | undefined;

  beforeAll(async () => {
    stack = await startLocalStack({
      config: loadLocalConfig(),
      dynamoDb: { endpoint: functionsReach === undefined ? endpoint : await functionsReach(endpoint), client },
      tablePrefix: `test-${randomBytes(6).toString('hex')}-`,
      logLevel: 'SILENT',
      marketplaceNotifications: false,
      ...options,
    });
    control = new SimulatorControl(stack.simulator.url);
  });
  afterAll(async () => {
    await stack?.close();
    client.destroy();
  });

  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useLocalStack(): the stack starts in beforeAll');
    return value;
  };
  return {
    get stack() {
      return started(stack);
    },
    get control() {
      return started(control);
    },
    documents,
    async subscriberItems() {
      const { Items = [] } = await documents.send(new ScanCommand({ TableName: started(stack).tables.Subscribers }));
      return Items;
    },
    async writeSubscriber(subscriberId, attributes) {
      const names = Object.keys(attributes);
      await documents.send(
        new UpdateCommand({
          TableName: started(stack).tables.Subscribers,
          Key: subscriberKey(subscriberId),
          UpdateExpression: `SET ${names.map((name, index) => `#a${index} = :a${index}`).join(', ')}`,
          ExpressionAttributeNames: Object.fromEntries(names.map((name, index) => [`#a${index}`, name])),
          ExpressionAttributeValues: Object.fromEntries(names.map((name, index) => [`:a${index}`, attributes[name]])),
        }),
      );
    },
  };
}
