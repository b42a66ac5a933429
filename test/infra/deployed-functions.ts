/**
 * The stack's functions as Lambda starts them: the entry module the stack bundles for a function, imported with the
 * environment the template gives it, invoked with what its trigger delivers, and every DynamoDB request it sends held
 * against its role as IAM decides it (a batch key by key, a transaction item by item). A mismatch would only show in
 * AWS: as a cold start that throws, or as AccessDenied.
 *
 * The AWS clients are the test file's fakes (a `vi.mock` of `lambdas/core/aws-clients.ts`, which only a test file can
 * hoist), handed here as {@link FakeAws}: nothing leaves the process.
 */
import type { Context } from 'aws-lambda';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, vi } from 'vitest';
import type { FakeAws, SentCommand } from './fake-aws.ts';
import { mayOnItem, on, partsOf, statementsOf } from './iam.ts';
import { getAtt, logicalIdOf, projectFunction, resourceNamed, type FunctionId, type synthesize } from './synthesis.ts';

/** One authorization IAM makes for a DynamoDB request: an action on a table (or index), for a partition key. */
export interface Authorization {
  readonly action: string;
  readonly table: unknown;
  readonly index?: string;
  readonly partitionKey?: string;
}

/** What an invocation answered, what it sent to AWS, and the JSON lines it wrote (logs, metrics). */
export interface Invocation<T> {
  readonly result: T;
  readonly sent: readonly SentCommand[];
  readonly written: readonly Record<string, unknown>[];
}

const projectRoot = join(import.meta.dirname, '..', '..');

/** The names the tables stand for in the functions' environments: their references, resolved. */
const TABLE_NAMES = { subscribers: 'Subscribers', usage: 'Usage' } as const;

/**
 * The harness for one synthesized stack. It captures what the functions write to stdout and stderr for the whole test
 * file (from its `beforeAll`), so call it at the top level of the file.
 */
export function deployedFunctions({ stack, template }: ReturnType<typeof synthesize>, fakes: FakeAws) {
  const tables: Record<string, string> = {
    [logicalIdOf(stack.storage.subscribers)]: TABLE_NAMES.subscribers,
    [logicalIdOf(stack.storage.usage)]: TABLE_NAMES.usage,
  };
  const tableIdOf = (name: unknown) => Object.keys(tables).find((id) => tables[id] === name) ?? '';
  const output: string[] = [];

  beforeAll(() => {
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        output.push(...String(chunk).split('\n').filter(Boolean));
        return true;
      });
    }
  });

  afterAll(() => {
    vi.restoreAllMocks();
  });

  /**
   * The function's environment as deployed: a table's reference stands for the table's name, any other reference for
   * what CloudFormation makes of it, named after the logical id of what it names (so a test can tell which resource a
   * variable points at).
   */
  function environmentOf(id: FunctionId): Record<string, string> {
    const { functionId } = partsOf(projectFunction(stack, id));
    const { Variables } = resourceNamed(template, functionId).Properties['Environment'] as {
      Variables: Record<string, unknown>;
    };
    return Object.fromEntries(
      Object.entries(Variables).map(([name, value]) => {
        if (typeof value === 'string') return [name, value];
        const reference = (value as { Ref?: string }).Ref ?? '';
        return [name, tables[reference] ?? referenceValue(reference)];
      }),
    );
  }

  /** What CloudFormation resolves a `Ref` to, by the resource's type, named after its logical id. */
  function referenceValue(logicalId: string): string {
    switch (resourceNamed(template, logicalId).Type) {
      case 'AWS::SQS::Queue':
        return `https://sqs.us-east-1.amazonaws.com/123456789012/${logicalId}`;
      case 'AWS::SecretsManager::Secret':
        return `arn:aws:secretsmanager:us-east-1:123456789012:secret:${logicalId}`;
      default:
        return logicalId;
    }
  }

  /** Imports the function's entry module the way Lambda starts it: with its environment, read at cold start. */
  async function start<Handler>(id: FunctionId): Promise<Handler> {
    for (const [name, value] of Object.entries(environmentOf(id))) vi.stubEnv(name, value);
    try {
      const entry = (await import(join(projectRoot, projectFunction(stack, id).entry))) as { handler: Handler };
      return entry.handler;
    } finally {
      vi.unstubAllEnvs();
    }
  }

  async function invoke<T>(run: () => Promise<T>): Promise<Invocation<T>> {
    fakes.sent.length = 0;
    output.length = 0;
    const result = await run();
    const written = output.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    return { result, sent: [...fakes.sent], written };
  }

  /** Whether the role allows it: an index by its ARN, an item by the leading-keys conditions on its table. */
  function allows(id: FunctionId, { action, table, index, partitionKey }: Authorization): boolean {
    const { roleId } = partsOf(projectFunction(stack, id));
    const tableId = tableIdOf(table);
    if (index !== undefined) {
      const indexArn = on({ 'Fn::Join': ['', [getAtt(tableId, 'Arn'), `/index/${index}`]] });
      return statementsOf(template, roleId).some(
        (statement) =>
          [statement.Action].flat().includes(action) &&
          [statement.Resource].flat().some((resource) => on(resource) === indexArn),
      );
    }
    if (partitionKey === undefined) throw new Error(`no partition key for ${action} on ${String(table)}`);
    return mayOnItem(template, roleId, tableId, action, partitionKey);
  }

  function expectAllAllowed(id: FunctionId, sent: readonly SentCommand[]): void {
    for (const command of sent) {
      for (const authorization of authorizationsOf(command)) {
        expect(allows(id, authorization), `${command.name}: ${JSON.stringify(authorization)}`).toBe(true);
      }
    }
  }

  return { environmentOf, start, invoke, allows, expectAllAllowed };
}

/** The context Lambda passes a function, with a minute left. */
export function contextOf(functionName: string): Context {
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: 'request-1',
    getRemainingTimeInMillis: () => 60_000,
  } as unknown as Context;
}

/**
 * The authorizations a request needs, as DynamoDB documents them: a batch's keys each as the batch action, a
 * transaction's items each as the item action it performs (`Update` as UpdateItem, and so on).
 */
export function authorizationsOf({ name, input }: SentCommand): Authorization[] {
  const pkOf = (item: unknown) => (item as { pk?: string } | undefined)?.pk;
  switch (name) {
    case 'BatchGetCommand':
      return Object.entries(input['RequestItems'] as Record<string, { Keys: unknown[] }>).flatMap(([table, request]) =>
        request.Keys.map((key) => ({ action: 'dynamodb:BatchGetItem', table, partitionKey: pkOf(key) })),
      );
    case 'TransactWriteCommand':
      return (input['TransactItems'] as Record<string, Record<string, unknown>>[]).map((item) => {
        const [[operation, request] = ['', {}]] = Object.entries(item);
        const action = operation === 'ConditionCheck' ? 'ConditionCheckItem' : `${operation}Item`;
        return {
          action: `dynamodb:${action}`,
          table: request['TableName'],
          partitionKey: pkOf(request['Key'] ?? request['Item']),
        };
      });
    case 'QueryCommand': {
      const index = input['IndexName'] as string | undefined;
      // A query of the table names its partition in its key condition; these functions call the value `:pk`.
      const values = input['ExpressionAttributeValues'] as Record<string, string> | undefined;
      return [
        index === undefined
          ? { action: 'dynamodb:Query', table: input['TableName'], partitionKey: values?.[':pk'] }
          : { action: 'dynamodb:Query', table: input['TableName'], index },
      ];
    }
    default: {
      const operation = name.replace(/Command$/, '');
      return [
        {
          action: `dynamodb:${operation}Item`,
          table: input['TableName'],
          partitionKey: pkOf(input['Key'] ?? input['Item']),
        },
      ];
    }
  }
}
