import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { createDynamoDbClient } from '../../local/dynamodb/launcher.ts';
import { createTables } from '../../local/dynamodb/tables.ts';
import type { TableNames } from '../../local/dynamodb/tables.ts';

export interface DynamoDbForTests {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  /** The prefix this file's tables share. */
  readonly prefix: string;
  /** Available from `beforeAll` on. */
  readonly tables: TableNames;
}

/**
 * Call once at the top of a test file: gives it a client for the shared DynamoDB Local and its own copy of every table,
 * under a prefix no other file uses, so files running in parallel never see each other's items.
 */
export function useDynamoDb(): DynamoDbForTests {
  const endpoint = inject('dynamodbEndpoint');
  const client = createDynamoDbClient(endpoint);
  const prefix = `test-${randomBytes(6).toString('hex')}-`;
  let tables: TableNames | undefined;

  beforeAll(async () => {
    tables = await createTables(client, { prefix });
  });
  afterAll(() => {
    client.destroy();
  });

  return {
    endpoint,
    client,
    prefix,
    get tables() {
      if (!tables) {
        throw new Error('useDynamoDb(): tables are created in beforeAll; read them inside a hook or a test.');
      }
      return tables;
    },
  };
}
