/**
 * How the functions fed by a queue or a stream consume it, as plain data: the constructs deploy these settings and the
 * local stack runs its queues and its stream poller with the same ones, so a retry behaves alike in both places.
 */
export interface QueueConsumerSettings {
  /** The function's timeout; the queue's visibility timeout is six times it, as AWS advises. */
  readonly functionTimeoutSeconds: number;
  readonly batchSize: number;
  /** Receives before a message moves to the dead-letter queue. */
  readonly maxReceiveCount: number;
  /** Batches in flight at once (the event source mapping's maximum concurrency). */
  readonly maxConcurrency: number;
}

export const QUEUE_CONSUMERS = {
  lifecycle: { functionTimeoutSeconds: 60, batchSize: 5, maxReceiveCount: 10, maxConcurrency: 5 },
  webhook: { functionTimeoutSeconds: 90, batchSize: 5, maxReceiveCount: 10, maxConcurrency: 2 },
} as const satisfies Record<string, QueueConsumerSettings>;

/**
 * How the seller notifier reads the Subscribers table's stream. No retry count: a failing record is retried until it
 * is `maxRecordAgeHours` old, then goes to the dead-letter queue.
 */
export const SELLER_NOTIFIER_STREAM = { batchSize: 10, maxRecordAgeHours: 12 } as const;
