/**
 * The local stand-ins for EventBridge and SQS answer hostile input as their AWS counterparts do: a 400 for the whole
 * request, before anything is stored, never a dropped connection.
 */
import { expect, test } from 'vitest';
import { useLocalStack } from '../support/local-stack.ts';

const local = useLocalStack();

async function awsJson(url: string, target: string, body: unknown) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { __type?: string; message?: string } };
}

test('PutEvents with a Time no date can hold is refused whole: no entry of it reaches the bus', async () => {
  const before = local.stack.eventBus.events().length;
  for (const time of [1e20, -1e20]) {
    const answer = await awsJson(local.stack.eventBus.url, 'AWSEvents.PutEvents', {
      Entries: [
        { Source: 'test', DetailType: 'first', Detail: '{}' },
        { Source: 'test', DetailType: 'second', Detail: '{}', Time: time },
      ],
    });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toContain('Time is out of range');
  }
  expect(local.stack.eventBus.events()).toHaveLength(before);
});

test('SQS operation names are not looked up on the prototype: constructor or toString is an unknown operation', async () => {
  for (const operation of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
    const answer = await awsJson(local.stack.sqsEndpoint, `AmazonSQS.${operation}`, {});
    expect({ operation, status: answer.status, type: answer.body.__type }).toEqual({
      operation,
      status: 400,
      type: expect.stringContaining('UnknownOperation') as unknown,
    });
  }
});

test('a queue URL of another account names no queue of the local stack, as in SQS', async () => {
  const listed = await awsJson(local.stack.sqsEndpoint, 'AmazonSQS.ListQueues', {});
  const { QueueUrls } = listed.body as { QueueUrls: string[] };
  const deadLetters = QueueUrls.find((url) => url.endsWith('/lifecycle-dead-letters'))!;
  const found = await awsJson(local.stack.sqsEndpoint, 'AmazonSQS.GetQueueAttributes', { QueueUrl: deadLetters });
  expect(found.status).toBe(200);
  const elsewhere = deadLetters.replace(/\/\d{12}\//, '/000000000000/');
  expect(elsewhere).not.toBe(deadLetters);
  const missing = await awsJson(local.stack.sqsEndpoint, 'AmazonSQS.GetQueueAttributes', { QueueUrl: elsewhere });
  expect({ status: missing.status, type: missing.body.__type }).toEqual({
    status: 400,
    type: expect.stringContaining('QueueDoesNotExist') as unknown,
  });
});
