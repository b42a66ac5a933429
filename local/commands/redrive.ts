/**
 * `npm run redrive`: moves a dead-letter queue's messages back to the queue they came from, with SQS's own message
 * move task (`StartMessageMoveTask`), and follows it (`ListMessageMoveTasks`) until it is done. Its consumer then
 * receives each message again, as if new. Fix what made them fail first, or they come straight back.
 *
 * ```sh
 * npm run redrive -- --list                  # the dead-letter queues, their messages, where they move back to
 * npm run redrive -- lifecycle               # a dead-letter queue, by a part of its name the others do not have
 * npm run redrive -- <queue URL or ARN>      # e.g. the stack's LifecycleDeadLetterQueueUrl output
 * ```
 *
 * The dead-letter queues are the queues another queue's `RedrivePolicy` names: locally those of the local stack's
 * queues (`local/sqs-endpoint.ts`), in AWS those of the stack (queue names starting with its name). A dead-letter queue
 * that is a Lambda function's or EventBridge rule's failure destination has no source queue for SQS to move its
 * messages to, so it is not one of them (see `docs/operations.md`). Where: `SQS_ENDPOINT` as `targets.ts` says, the
 * running `npm start` by default, `SQS_ENDPOINT=` for AWS (region and credentials as usual).
 *
 * Exit status: 0 when every message moved (or there was none); 1 when the task failed or SQS could not be reached;
 * 2 for bad arguments, or a queue that names no dead-letter queue (the message lists them).
 */
import '../sdk-environment.ts';
import {
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  paginateListQueues,
  SQSClient,
  StartMessageMoveTaskCommand,
  type ListMessageMoveTasksResultEntry,
} from '@aws-sdk/client-sqs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  alignedTable,
  ArgumentError,
  CommandFailureError,
  counted,
  parseCommandLine,
  runCommand,
} from './command-line.ts';
import { endpointOf, useLocalCredentials } from './targets.ts';

const USAGE = 'npm run redrive -- <dead-letter queue: name, part of a name, URL or ARN> | --list';
/** How often a running task is asked about: SQS moves about 500 messages a second at most. */
const POLL_MS = 2_000;

interface DeadLetterQueue {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly messages: number;
  /** The queues whose redrive policy names it: where its messages go back to. */
  readonly sources: readonly string[];
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { list: { type: 'boolean', default: false } }, true);
  if (values.list === positionals.length > 0 || positionals.length > 1) {
    throw new ArgumentError('give one dead-letter queue, or --list');
  }
  const endpoint = await endpointOf('sqs');
  if (endpoint !== undefined) useLocalCredentials();
  const client = new SQSClient(endpoint === undefined ? {} : { endpoint });
  try {
    const where = endpoint ?? `SQS in ${await client.config.region()}`;
    // In AWS, the stack's queues only (their names start with its name); the app module loads the whole CDK, so only
    // then is it read.
    const namePrefix = endpoint === undefined ? (await import('../../lib/app.ts')).STACK_ID : undefined;
    const queues = await deadLetterQueues(client, namePrefix).catch((error: unknown) => {
      throw new CommandFailureError(`cannot list the queues of ${where}`, { cause: error });
    });
    if (values.list) {
      console.log(listing(queues, where));
      return 0;
    }
    return await redrive(client, pick(queues, positionals[0]!, where));
  } finally {
    client.destroy();
  }
}

/** Every queue another queue's redrive policy names, with its count of messages. */
async function deadLetterQueues(client: SQSClient, namePrefix: string | undefined): Promise<DeadLetterQueue[]> {
  const queues: { url: string; arn: string; messages: number; deadLetterTargetArn?: string }[] = [];
  for await (const page of paginateListQueues(
    { client },
    namePrefix === undefined ? {} : { QueueNamePrefix: namePrefix },
  )) {
    for (const url of page.QueueUrls ?? []) {
      const { Attributes = {} } = await client.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['QueueArn', 'ApproximateNumberOfMessages', 'RedrivePolicy'],
        }),
      );
      const policy =
        Attributes.RedrivePolicy === undefined
          ? undefined
          : (JSON.parse(Attributes.RedrivePolicy) as { deadLetterTargetArn?: string });
      queues.push({
        url,
        arn: Attributes.QueueArn ?? '',
        messages: Number(Attributes.ApproximateNumberOfMessages ?? 0),
        ...(policy?.deadLetterTargetArn === undefined ? {} : { deadLetterTargetArn: policy.deadLetterTargetArn }),
      });
    }
  }
  return queues
    .map((queue) => ({
      name: nameOf(queue.arn),
      url: queue.url,
      arn: queue.arn,
      messages: queue.messages,
      sources: queues.filter((source) => source.deadLetterTargetArn === queue.arn).map((source) => nameOf(source.arn)),
    }))
    .filter((queue) => queue.sources.length > 0)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The dead-letter queue `given` names: its ARN, URL or name, or a part of its name no other one has. */
function pick(queues: readonly DeadLetterQueue[], given: string, where: string): DeadLetterQueue {
  const exact = queues.find((queue) => queue.arn === given || queue.url === given || queue.name === given);
  if (exact !== undefined) return exact;
  const byUrlName = /^https?:\/\//.test(given) ? queues.filter((queue) => isUrlOf(queue, given)) : [];
  const byPart = queues.filter((queue) => queue.name.toLowerCase().includes(given.toLowerCase()));
  const [found, ...others] = byUrlName.length > 0 ? byUrlName : byPart;
  if (found !== undefined && others.length === 0) return found;
  const known = queues.length === 0 ? 'there are none' : `they are: ${queues.map((queue) => queue.name).join(', ')}`;
  throw new ArgumentError(
    `${found === undefined ? 'no' : 'more than one'} dead-letter queue of ${where} matches "${given}"; ${known}`,
  );
}

async function redrive(client: SQSClient, queue: DeadLetterQueue): Promise<number> {
  const back = queue.sources.join(', ');
  if (queue.messages === 0) {
    console.log(`${queue.name} holds no message: nothing to move back to ${back}.`);
    return 0;
  }
  console.log(`Moving about ${counted(queue.messages, 'message')} from ${queue.name} back to ${back}...`);
  await client.send(new StartMessageMoveTaskCommand({ SourceArn: queue.arn }));
  let reported = -1;
  for (;;) {
    const task = await latestTask(client, queue.arn);
    const moved = task.ApproximateNumberOfMessagesMoved ?? 0;
    if (task.Status !== 'RUNNING') return finished(task, queue, back);
    if (moved !== reported) console.log(`  moved ${moved} of ${task.ApproximateNumberOfMessagesToMove ?? '?'}`);
    reported = moved;
    await sleep(POLL_MS);
  }
}

async function latestTask(client: SQSClient, sourceArn: string): Promise<ListMessageMoveTasksResultEntry> {
  const { Results = [] } = await client.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 }));
  const [task] = Results;
  if (task === undefined) throw new CommandFailureError(`SQS lists no message move task of ${sourceArn}`);
  return task;
}

function finished(task: ListMessageMoveTasksResultEntry, queue: DeadLetterQueue, back: string): number {
  const moved = task.ApproximateNumberOfMessagesMoved ?? 0;
  if (task.Status === 'COMPLETED') {
    console.log(`Moved ${counted(moved, 'message')} from ${queue.name} back to ${back}, which receives them again.`);
    return 0;
  }
  console.error(
    `npm run redrive: the move from ${queue.name} ended ${task.Status} after ${counted(moved, 'message')}` +
      `${task.FailureReason === undefined ? '' : `: ${task.FailureReason}`}`,
  );
  return 1;
}

function listing(queues: readonly DeadLetterQueue[], where: string): string {
  if (queues.length === 0) return `No queue of ${where} is another queue's dead-letter queue.`;
  const header = ['dead-letter queue', 'messages', 'moves back to'];
  const rows = queues.map((queue) => [queue.name, String(queue.messages), queue.sources.join(', ')]);
  return [
    `Dead-letter queues of ${where} (approximate message counts):`,
    '',
    ...alignedTable(header, rows, new Set([1])),
  ].join('\n');
}

/** A queue's name: the last part of its ARN or URL. */
/**
 * Whether `url` is the queue's URL written another way (another of SQS's host names for the region): the same account
 * and name, and the same region when its host names one. A queue of the same name in another account or region is
 * not this one.
 */
function isUrlOf(queue: DeadLetterQueue, url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const [, region, account] = /^arn:[^:]+:sqs:([^:]*):([^:]*):/.exec(queue.arn) ?? [];
  const hostRegion = /^(?:sqs\.([a-z0-9-]+)\.amazonaws\.com|([a-z0-9-]+)\.queue\.amazonaws\.com)$/.exec(
    parsed.hostname,
  );
  const urlRegion = hostRegion?.[1] ?? hostRegion?.[2];
  return (
    parsed.pathname.replace(/\/$/, '') === `/${account}/${queue.name}` &&
    (urlRegion === undefined || urlRegion === region)
  );
}

function nameOf(arnOrUrl: string): string {
  return arnOrUrl.split(/[:/]/).pop() ?? arnOrUrl;
}

runCommand('redrive', USAGE, main);
