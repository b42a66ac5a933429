/**
 * Where messages that could not be delivered wait: encrypted, TLS only, kept 14 days (SQS's longest), so an operator
 * has two weeks to look. A dead-letter queue has no dead-letter queue of its own; cdk-nag's finding says so, with
 * the caller's reason naming what the queue catches.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

export function newDeadLetterQueue(scope: Construct, id: string, catches: string): Queue {
  const queue = new Queue(scope, id, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: `This queue is itself the dead-letter queue of ${catches}; a dead-letter queue of its own would only move the same messages once more.`,
  });
  return queue;
}
