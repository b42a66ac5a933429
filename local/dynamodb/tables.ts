import {
  CreateTableCommand,
  DescribeTimeToLiveCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import type { AttributeDefinition, DynamoDBClient, KeySchemaElement } from '@aws-sdk/client-dynamodb';
import {
  type AttributeType,
  type KeyAttribute,
  type TableDefinition,
  tableDefinitions,
} from '../../contracts/index.ts';
import { LocalStackError } from '../errors.ts';

export type TableNames = Record<TableDefinition['id'], string>;

export interface CreateTablesOptions {
  /** Prepended to every table id, so that several test files can share one DynamoDB Local. */
  readonly prefix?: string;
}

export class TableDefinitionError extends LocalStackError {
  override readonly name = 'TableDefinitionError';
}

/**
 * Creates every table in `contracts/tables.ts` (keys, indexes and TTL exactly as defined) and waits until each is ACTIVE.
 * A table that already exists, say in a reused data directory, is left as it is; only a TTL that was never switched
 * on is switched on.
 */
export async function createTables(client: DynamoDBClient, options: CreateTablesOptions = {}): Promise<TableNames> {
  const prefix = options.prefix ?? '';
  const created = await Promise.all(
    tableDefinitions.map(async (definition) => {
      const tableName = `${prefix}${definition.id}`;
      await createTable(client, tableName, definition);
      await enableTimeToLive(client, tableName, definition.timeToLiveAttribute);
      return [definition.id, tableName] as const;
    }),
  );
  return Object.fromEntries(created) as TableNames;
}

async function createTable(client: DynamoDBClient, tableName: string, definition: TableDefinition): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: attributeDefinitions(definition),
        KeySchema: keySchema(definition.partitionKey, definition.sortKey),
        // DynamoDB rejects an empty list, so a table without indexes sends none.
        GlobalSecondaryIndexes:
          definition.globalSecondaryIndexes.length > 0
            ? definition.globalSecondaryIndexes.map((index) => ({
                IndexName: index.indexName,
                KeySchema: keySchema(index.partitionKey, index.sortKey),
                Projection: { ProjectionType: index.projection === 'all' ? 'ALL' : 'KEYS_ONLY' },
              }))
            : undefined,
        StreamSpecification:
          definition.stream === undefined ? undefined : { StreamEnabled: true, StreamViewType: definition.stream },
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) {
      throw error;
    }
  }
  // DynamoDB Local makes tables ACTIVE at once; the short delays only matter against slower backends.
  await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1, maxDelay: 5 }, { TableName: tableName });
}

async function enableTimeToLive(client: DynamoDBClient, tableName: string, attributeName: string): Promise<void> {
  const { TimeToLiveDescription } = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  if (TimeToLiveDescription?.TimeToLiveStatus !== 'DISABLED') {
    return;
  }
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: attributeName, Enabled: true },
    }),
  );
}

function keySchema(partitionKey: KeyAttribute, sortKey: KeyAttribute | undefined): KeySchemaElement[] {
  return [
    { AttributeName: partitionKey.name, KeyType: 'HASH' },
    ...(sortKey ? [{ AttributeName: sortKey.name, KeyType: 'RANGE' as const }] : []),
  ];
}

/** Every attribute used as a key by the table or one of its indexes, once each; DynamoDB rejects any other. */
function attributeDefinitions(definition: TableDefinition): AttributeDefinition[] {
  const keys = [
    definition.partitionKey,
    definition.sortKey,
    ...definition.globalSecondaryIndexes.flatMap((index) =>
      index.sortKey ? [index.partitionKey, index.sortKey] : [index.partitionKey],
    ),
  ];
  const typesByName = new Map<string, AttributeType>();
  for (const key of keys) {
    const known = typesByName.get(key.name);
    if (known !== undefined && known !== key.type) {
      throw new TableDefinitionError(
        `Table ${definition.id} uses attribute ${key.name} as a key with two types, ${known} and ${key.type}.`,
      );
    }
    typesByName.set(key.name, key.type);
  }
  return [...typesByName].map(([name, type]) => ({ AttributeName: name, AttributeType: type }));
}
