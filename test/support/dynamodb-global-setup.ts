import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../local/dynamodb/launcher.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The integration project's shared DynamoDB Local; each test file makes its own tables in it. */
    dynamodbEndpoint: string;
  }
}

/**
 * One in-memory DynamoDB Local for the whole integration run: a JVM start takes most of a second, too much to pay
 * per file.
 * Vitest calls the returned teardown whether tests pass or fail; if vitest itself dies, the supervised process's
 * watchdog stops java.
 */
export default async function startSharedDynamoDbLocal(project: TestProject): Promise<() => Promise<void>> {
  const dynamoDb = await startDynamoDbLocal();
  project.provide('dynamodbEndpoint', dynamoDb.endpoint);
  return () => dynamoDb.stop();
}
