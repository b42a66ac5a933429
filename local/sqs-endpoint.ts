/**
 * The local queues behind an SQS-shaped endpoint, so that `npm run redrive` (and the AWS CLI, or any SQS client) works
 * on them as on the deployed queues: the AWS JSON 1.0 protocol that `@aws-sdk/client-sqs` v3 speaks (`POST /`,
 * `X-Amz-Target: AmazonSQS.<Operation>`), for the operations a redrive needs and no more: `ListQueues`,
 * `GetQueueUrl`, `GetQueueAttributes`, `StartMessageMoveTask` and `ListMessageMoveTasks`.
 *
 * Each local queue appears with its dead-letter queue beside it (`<name>-dead-letters`, holding the messages the queue
 * set aside), and its `RedrivePolicy` names that queue, as the deployed work queues do. A message move task moves every
 * dead letter back to its source at once, and is listed as completed.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { AwsError, parseJsonBody, readAwsJsonBody, unknownOperationError, validationError } from './http/aws-json.ts';
import { listen } from './http/listen.ts';
import { handledRequests } from './http/request-handler.ts';
import type { LocalQueue } from './queue.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './local-aws.ts';

const CONTENT_TYPE = 'application/x-amz-json-1.0';
const TARGET_PREFIX = 'AmazonSQS.';
const MAX_REQUEST_BYTES = 256 * 1024;

export interface SqsEndpoint {
  readonly url: string;
  close(): Promise<void>;
}

/** A queue as the endpoint shows it: a local queue, or the dead letters it has set aside. */
interface ShownQueue {
  readonly name: string;
  readonly arn: string;
  readonly messageCount: () => number;
  /** Set on a work queue: the dead-letter queue its redrive policy names. */
  readonly redrivePolicy?: { readonly deadLetterTargetArn: string; readonly maxReceiveCount: number };
  /** Set on a dead-letter queue: the queue its messages came from. */
  readonly source?: LocalQueue;
}

interface MoveTask {
  readonly TaskHandle: string;
  readonly Status: 'COMPLETED';
  readonly SourceArn: string;
  readonly DestinationArn: string;
  readonly ApproximateNumberOfMessagesMoved: number;
  readonly ApproximateNumberOfMessagesToMove: number;
  readonly StartedTimestamp: number;
}

const queueUrlInput = z.object({ QueueUrl: z.string().min(1) });
const inputs = {
  ListQueues: z.object({ QueueNamePrefix: z.string().optional() }),
  GetQueueUrl: z.object({ QueueName: z.string().min(1) }),
  GetQueueAttributes: queueUrlInput.extend({ AttributeNames: z.array(z.string()).optional() }),
  StartMessageMoveTask: z.object({
    SourceArn: z.string().min(1),
    DestinationArn: z.string().optional(),
    MaxNumberOfMessagesPerSecond: z.number().int().min(1).max(500).optional(),
  }),
  ListMessageMoveTasks: z.object({
    SourceArn: z.string().min(1),
    MaxResults: z.number().int().min(1).max(10).optional(),
  }),
};

function deadLetterQueueName(queueName: string): string {
  return `${queueName}-dead-letters`;
}

export async function startSqsEndpoint(options: {
  readonly queues: readonly LocalQueue[];
  readonly port?: number;
  readonly host?: string;
}): Promise<SqsEndpoint> {
  const host = options.host ?? '127.0.0.1';
  const shown: ShownQueue[] = options.queues.flatMap((queue) => {
    const deadLetterArn = `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${deadLetterQueueName(queue.name)}`;
    return [
      {
        name: queue.name,
        arn: queue.arn,
        messageCount: () => queue.messageCount(),
        redrivePolicy: { deadLetterTargetArn: deadLetterArn, maxReceiveCount: queue.maxReceiveCount },
      },
      {
        name: deadLetterQueueName(queue.name),
        arn: deadLetterArn,
        messageCount: () => queue.deadLetters.length,
        source: queue,
      },
    ];
  });
  const tasks = new Map<string, MoveTask[]>();
  let url = '';
  const urlOf = (queue: ShownQueue) => `${url}/${LOCAL_ACCOUNT_ID}/${queue.name}`;

  // A queue's URL ends in its account and name: the same name in another account is another queue, not this one.
  const byUrl = (queueUrl: string) => {
    const [account, name] = (URL.parse(queueUrl)?.pathname ?? '').split('/').slice(-2);
    const queue = account === LOCAL_ACCOUNT_ID ? shown.find((candidate) => candidate.name === name) : undefined;
    if (queue === undefined) throw sqsError('QueueDoesNotExist', 'The specified queue does not exist.');
    return queue;
  };
  const byArn = (arn: string) => {
    const queue = shown.find((candidate) => candidate.arn === arn);
    if (queue === undefined) throw sqsError('ResourceNotFoundException', `There is no queue with ARN ${arn}.`);
    return queue;
  };

  const operations: Record<keyof typeof inputs, (input: never) => unknown> = {
    ListQueues: ({ QueueNamePrefix = '' }: z.infer<typeof inputs.ListQueues>) => ({
      QueueUrls: shown.filter((queue) => queue.name.startsWith(QueueNamePrefix)).map(urlOf),
    }),
    GetQueueUrl: ({ QueueName }: z.infer<typeof inputs.GetQueueUrl>) => {
      const queue = shown.find((candidate) => candidate.name === QueueName);
      if (queue === undefined) throw sqsError('QueueDoesNotExist', 'The specified queue does not exist.');
      return { QueueUrl: urlOf(queue) };
    },
    GetQueueAttributes: ({ QueueUrl, AttributeNames = [] }: z.infer<typeof inputs.GetQueueAttributes>) => {
      const queue = byUrl(QueueUrl);
      const all: Record<string, string> = {
        QueueArn: queue.arn,
        ApproximateNumberOfMessages: String(queue.messageCount()),
        ...(queue.redrivePolicy === undefined ? {} : { RedrivePolicy: JSON.stringify(queue.redrivePolicy) }),
      };
      const wanted = AttributeNames.includes('All') ? Object.keys(all) : AttributeNames;
      const Attributes = Object.fromEntries(Object.entries(all).filter(([name]) => wanted.includes(name)));
      return Object.keys(Attributes).length === 0 ? {} : { Attributes };
    },
    StartMessageMoveTask: ({ SourceArn, DestinationArn }: z.infer<typeof inputs.StartMessageMoveTask>) => {
      const { source } = byArn(SourceArn);
      if (source === undefined) {
        throw sqsError('UnsupportedOperation', 'Source queue must be configured as a Dead Letter Queue.');
      }
      if (DestinationArn !== undefined && DestinationArn !== source.arn) {
        throw sqsError('UnsupportedOperation', `The local queues move dead letters back to their source only.`);
      }
      const toMove = source.deadLetters.length;
      const task: MoveTask = {
        TaskHandle: Buffer.from(JSON.stringify({ taskId: randomUUID(), sourceArn: SourceArn })).toString('base64'),
        Status: 'COMPLETED',
        SourceArn,
        DestinationArn: source.arn,
        ApproximateNumberOfMessagesToMove: toMove,
        ApproximateNumberOfMessagesMoved: source.redriveDeadLetters(),
        StartedTimestamp: Date.now(),
      };
      tasks.set(SourceArn, [task, ...(tasks.get(SourceArn) ?? [])]);
      return { TaskHandle: task.TaskHandle };
    },
    ListMessageMoveTasks: ({ SourceArn, MaxResults = 1 }: z.infer<typeof inputs.ListMessageMoveTasks>) => {
      byArn(SourceArn);
      // As SQS does, a finished task's handle is not given: it can no longer be cancelled.
      const Results = (tasks.get(SourceArn) ?? []).slice(0, MaxResults).map(({ TaskHandle: _, ...task }) => task);
      return { Results };
    },
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    try {
      const body = await readAwsJsonBody(request, MAX_REQUEST_BYTES);
      const target = String(request.headers['x-amz-target'] ?? '');
      const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
      // Own keys only: `constructor` or `toString` are in every object, not operations.
      if (request.method !== 'POST' || !Object.hasOwn(inputs, operation)) throw unknownOperationError();
      const name = operation as keyof typeof inputs;
      const input = inputs[name].safeParse(parseJsonBody(body));
      if (!input.success) throw validationError(z.prettifyError(input.error));
      send(response, 200, operations[name](input.data as never), requestId);
    } catch (error) {
      if (!(error instanceof AwsError)) throw error;
      send(response, error.status, { __type: `${error.namespace}#${error.type}`, message: error.message }, requestId);
    }
  }

  const server = createServer(handledRequests('sqs endpoint', handle));
  await listen(server, options.port ?? 0, host);
  url = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function sqsError(type: string, message: string): AwsError {
  return new AwsError(type, message, 400, 'com.amazonaws.sqs');
}

function send(response: ServerResponse, status: number, body: unknown, requestId: string): void {
  const payload = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': CONTENT_TYPE,
    'content-length': Buffer.byteLength(payload),
    'x-amzn-requestid': requestId,
  });
  response.end(payload);
}
