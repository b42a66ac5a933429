/**
 * A queue that one function consumes: encrypted, TLS only, with a dead-letter queue (and its alarm) for the messages
 * the function failed on too often. SQS hides a message from other consumers for the visibility timeout while the
 * function works on it: six times the function's timeout, as Lambda advises, so that a batch retried after a throttled
 * or timed-out invocation is not handed out twice at once.
 */
import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { newDeadLetterQueue, type DeadLetterQueueProps } from './dead-letter-queue.ts';

export interface WorkQueueProps {
  /** By default CloudFormation names the queue. */
  readonly queueName?: string;
  /** The timeout of the function that consumes the queue. */
  readonly consumerTimeout: Duration;
  /** How many times the function may fail a message before it goes to the dead-letter queue. */
  readonly maxReceiveCount: number;
  readonly deadLetters: Omit<DeadLetterQueueProps, 'redriveTarget'>;
}

export interface WorkQueue {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
}

export function newWorkQueue(scope: Construct, id: string, props: WorkQueueProps): WorkQueue {
  const deadLetterQueue = newDeadLetterQueue(scope, `${id}DeadLetterQueue`, {
    ...props.deadLetters,
    redriveTarget: true,
  });
  const queue = new Queue(scope, id, {
    queueName: props.queueName,
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    visibilityTimeout: Duration.seconds(props.consumerTimeout.toSeconds() * 6),
    // SQS's default of four days, shorter than the dead-letter queue's fourteen: a message keeps its first enqueue
    // time when it moves, so a dead-letter queue must keep messages longer than the queue they come from.
    retentionPeriod: Duration.days(4),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
  });
  return { queue, deadLetterQueue };
}
