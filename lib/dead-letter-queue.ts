/**
 * Where messages that could not be delivered wait: encrypted, TLS only, kept 14 days (SQS's longest), so an operator
 * has two weeks to look, and an alarm the moment one arrives, so that someone does. A dead-letter queue has no
 * dead-letter queue of its own; where cdk-nag cannot tell that the queue is one (always for the Serverless pack; for
 * AwsSolutions, unless it is the target of a queue's redrive policy), its finding says so, naming what it catches.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { alarmWhenAbove } from './alarms.ts';

export interface DeadLetterQueueProps {
  /** Whose undeliverable messages wait here, and how they come: "the <sender> (its on-failure destination)". */
  readonly catches: string;
  /** The target of another queue's redrive policy, which AwsSolutions recognizes as a dead-letter queue itself. */
  readonly redriveTarget?: boolean;
  /** The alarm's name in the stack (see `alarms.ts`). */
  readonly alarmName: string;
  /** What a message waiting here means and what to do about it. */
  readonly alarmDescription: string;
}

export function newDeadLetterQueue(scope: Construct, id: string, props: DeadLetterQueueProps): Queue {
  const queue = new Queue(scope, id, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const reason = `This queue is itself the dead-letter queue of ${props.catches}; a dead-letter queue of its own would only move the same messages once more.`;
  if (props.redriveTarget !== true) Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason });
  Validations.of(queue).acknowledge({ id: 'Serverless-SQSRedrivePolicy', reason });
  alarmWhenAbove(queue, 'MessagesWaitingAlarm', {
    name: props.alarmName,
    description: props.alarmDescription,
    // Nothing reads these queues but an operator, so a message stays visible until someone deals with it.
    metric: queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum' }),
    threshold: 0,
  });
  return queue;
}
