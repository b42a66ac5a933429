import { Logger } from '@aws-lambda-powertools/logger';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { expect, test } from 'vitest';
import { createSubscriberAccessHandler } from '../../lambdas/access/subscriber-access-handler.ts';

// The handler's answers to its input alone. The id is checked before any read, so these use a client that throws if
// called (`send` is the only member the handler reaches); the DynamoDB side is covered by the integration tests.

const TABLE = 'Subscribers-unit';
const BAD_ID = 'The id must be license:<LicenseArn> or legacy:<ProductCode>:<CustomerIdentifier>';
const LICENSE_ARN = 'arn:aws:license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef';
/** DynamoDB's limit on a partition key, and what the Subscribers table puts before the id in it. */
const MAX_KEY_BYTES = 2048;
const KEY_PREFIX = 'SUBSCRIBER#';

interface Sent {
  readonly input: unknown;
  readonly isGet: boolean;
}

/** A client that records what it is sent and then answers `answer` (an item, or no item), or throws. */
function fakeClient(answer: 'throw' | 'no item' | Record<string, unknown>) {
  const sent: Sent[] = [];
  const client = {
    send: (command: { input: unknown }) => {
      sent.push({ input: command.input, isGet: command instanceof GetCommand });
      if (answer === 'throw') throw new Error('DynamoDB must not be called for this request');
      return Promise.resolve(answer === 'no item' ? {} : { Item: answer });
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, sent };
}

function handlerWith(client: DynamoDBDocumentClient) {
  return createSubscriberAccessHandler({
    client,
    tableName: TABLE,
    finalMeteringGraceSeconds: 3600,
    clock: { now: () => new Date('2026-11-26T12:00:00.000Z') },
    logger: new Logger({ logLevel: 'SILENT' }),
  });
}

function request(httpMethod: string, pathParameters: Record<string, string> | null): APIGatewayProxyEvent {
  return { httpMethod, pathParameters, requestContext: { requestId: 'request-1' } } as unknown as APIGatewayProxyEvent;
}

/** The answer to `GET /subscribers/{id}` (or another method) without DynamoDB, which is asserted not to be called. */
async function answerWithoutDynamoDb(id: string | null, httpMethod = 'GET'): Promise<APIGatewayProxyResult> {
  const { client, sent } = fakeClient('throw');
  const result = await handlerWith(client)(request(httpMethod, id === null ? null : { id }));
  expect(sent, 'DynamoDB was called').toEqual([]);
  return result;
}

function expectJson(
  result: APIGatewayProxyResult,
  statusCode: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  expect(result.statusCode).toBe(statusCode);
  expect(result.headers).toEqual({ 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  expect(JSON.parse(result.body)).toEqual({ message });
}

/** A license id of exactly `length` characters, made long by its partition (`aws-xxx...`), which the check allows. */
function licenseIdOfLength(length: number): string {
  const tail = ':license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef';
  const id = `license:arn:aws-${'x'.repeat(length - 'license:arn:aws-'.length - tail.length)}${tail}`;
  expect(id).toHaveLength(length);
  return id;
}

test.each(['POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'get'])('%s is answered 405', async (method) => {
  expectJson(await answerWithoutDynamoDb(`license:${LICENSE_ARN}`, method), 405, 'Use GET', { allow: 'GET' });
});

test.each([
  ['no path parameters', null],
  ['an empty id', ''],
])('%s is answered 400', async (_name, id) => {
  expectJson(await answerWithoutDynamoDb(id), 400, BAD_ID);
});

test('a request whose path parameters lack the id is answered 400', async () => {
  const { client, sent } = fakeClient('throw');
  expectJson(await handlerWith(client)(request('GET', { other: `license:${LICENSE_ARN}` })), 400, BAD_ID);
  expect(sent).toEqual([]);
});

test.each([
  ['a bare license ARN', LICENSE_ARN],
  ['a capitalized prefix', `License:${LICENSE_ARN}`],
  ['an unknown kind', `account:${LICENSE_ARN}`],
  ['an ARN of another service', 'license:arn:aws:s3:::my-bucket'],
  ['an ARN of another partition prefix', `license:${LICENSE_ARN.replace('arn:aws:', 'arn:awz:')}`],
  ['a license prefix and nothing after the service', 'license:arn:aws:license-manager:'],
  ['a legacy id without a customer identifier', 'legacy:prod-abc123'],
  ['a legacy id with an empty product code', 'legacy::CUSTOMER1'],
  ['a legacy id with an empty customer identifier', 'legacy:prod-abc123:'],
  ['a prefix alone', 'legacy:'],
  ['a prefix preceded by something', `xlicense:${LICENSE_ARN}`],
])('an id of the wrong form (%s) is answered 400', async (_name, id) => {
  expectJson(await answerWithoutDynamoDb(id), 400, BAD_ID);
});

test.each([
  ['a space', `license:${LICENSE_ARN} `],
  ['a space inside', 'legacy:prod-abc123:CUSTOMER 1'],
  ['a tab', 'legacy:prod-abc123:CUSTOMER\t1'],
  ['a trailing line feed', `license:${LICENSE_ARN}\n`],
  ['a carriage return', 'legacy:prod-abc123:CUSTOMER1\r'],
  ['a no-break space', 'legacy:prod-abc123:CUSTOMER\u00a01'],
  ['a NUL', 'legacy:prod-abc123:CUSTOMER\u00001'],
  ['a DEL', 'legacy:prod-abc123:CUSTOMER\u007f1'],
])('an id with whitespace or a control character (%s) is answered 400', async (_name, id) => {
  expectJson(await answerWithoutDynamoDb(id), 400, BAD_ID);
});

test.each([
  ['an accented letter', 'legacy:prod-abc123:CUSTOMÉR1'],
  ['a letter of another script', 'legacy:prod-abc123:顧客1'],
  ['an emoji (a surrogate pair)', 'legacy:prod-abc123:CUSTOMER\u{1f600}'],
  ['a full-width colon', 'legacy:prod-abc123\uff1aCUSTOMER1'],
  // The reported case: 1,200 two-byte characters are a key of 2,411 bytes, which DynamoDB refuses; not a 503.
  ['1,200 two-byte characters', `license:arn:aws:license-manager:${'é'.repeat(1200)}`],
])('an id with a character outside ASCII (%s) is answered 400', async (_name, id) => {
  expectJson(await answerWithoutDynamoDb(id), 400, BAD_ID);
});

test.each([
  ['a license part over 1,200 characters', `license:arn:aws:license-manager:${'a'.repeat(1201)}`],
  ['a product code over 255 characters', `legacy:${'p'.repeat(256)}:CUSTOMER1`],
  ['a customer identifier over 255 characters', `legacy:prod-abc123:${'c'.repeat(256)}`],
  ['a key of 2,049 bytes', licenseIdOfLength(MAX_KEY_BYTES - KEY_PREFIX.length + 1)],
  ['a key far over 2,048 bytes', licenseIdOfLength(10_000)],
])('an over-long id (%s) is answered 400', async (_name, id) => {
  expectJson(await answerWithoutDynamoDb(id), 400, BAD_ID);
});

test.each([
  ['a license id', `license:${LICENSE_ARN}`],
  ['a license id of another partition', `license:${LICENSE_ARN.replace('arn:aws:', 'arn:aws-us-gov:')}`],
  ['a legacy id', 'legacy:prod-abc123:CUSTOMER1'],
  ['a legacy id whose product code has every allowed sign', 'legacy:a-Z0/=:_.@9:CUSTOMER1'],
  ['a legacy id whose product code has colons', 'legacy:vendor:product:CUSTOMER1'],
  ['a legacy id of the longest parts', `legacy:${'p'.repeat(255)}:${'c'.repeat(255)}`],
  ['a legacy id whose longest product code has colons', `legacy:${'p:'.repeat(127)}p:${'c'.repeat(255)}`],
  ['a legacy id with every printable sign', 'legacy:prod-abc123:!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'],
  ['the longest license id allowed', `license:arn:aws:license-manager:${'a'.repeat(1200)}`],
  ['an id whose key is exactly 2,048 bytes', licenseIdOfLength(MAX_KEY_BYTES - KEY_PREFIX.length)],
])('%s is looked up by its key, consistently, and an unknown one is answered 404', async (_name, id) => {
  const { client, sent } = fakeClient('no item');
  const result = await handlerWith(client)(request('GET', { id }));
  expectJson(result, 404, 'No such subscriber');
  expect(sent).toEqual([
    {
      isGet: true,
      input: { TableName: TABLE, Key: { pk: `${KEY_PREFIX}${id}`, sk: 'SUBSCRIBER' }, ConsistentRead: true },
    },
  ]);
});

test('a known subscriber is answered 200 with its access, not cached', async () => {
  const id = `license:${LICENSE_ARN}`;
  const { client } = fakeClient({
    productCode: 'prod-abc123',
    identityModel: 'license',
    licenseArn: LICENSE_ARN,
    lifecycle: {},
  });
  const result = await handlerWith(client)(request('GET', { id }));
  expect(result.statusCode).toBe(200);
  expect(result.headers).toEqual({ 'content-type': 'application/json', 'cache-control': 'no-store' });
  expect(JSON.parse(result.body)).toMatchObject({
    subscriberId: id,
    productCode: 'prod-abc123',
    licenseArn: LICENSE_ARN,
  });
});

test('a valid id that DynamoDB fails on is answered 503, to be tried again after the Retry-After', async () => {
  const { client, sent } = fakeClient('throw');
  expectJson(await handlerWith(client)(request('GET', { id: 'legacy:prod-abc123:CUSTOMER1' })), 503, 'Try again', {
    'retry-after': '2',
  });
  expect(sent).toHaveLength(1);
});
