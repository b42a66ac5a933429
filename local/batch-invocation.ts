/**
 * One invocation of a batch handler by a local event source (the stream poller, the queues), as Lambda's event source
 * mappings make it with `ReportBatchItemFailures`: the event crosses to the function as JSON, and the answer is read
 * as a partial batch response. Lambda retries the whole batch when the function throws, or when its answer is not a
 * batch response or names an item that is not in the batch.
 */
import type { Context } from 'aws-lambda';

export type BatchHandler<E> = (event: E, context: Context) => Promise<unknown>;

export interface BatchInvocation<E> {
  readonly handler: BatchHandler<E>;
  readonly event: E;
  /** The ids a batch item failure may name: message ids, or stream sequence numbers. */
  readonly itemIds: readonly string[];
  readonly context: Context;
  /** Who invokes, for the log lines: `queue lifecycle`, `stream Subscribers`. */
  readonly source: string;
}

/** The items to retry: none, some (the handler named them), or all of them when the whole batch failed. */
export interface BatchFailures {
  readonly itemIds: ReadonlySet<string>;
  /** The handler threw, or its answer was not a partial batch response: what `bisectBatchOnError` splits. */
  readonly wholeBatch: boolean;
}

/** Invokes the handler; answers which items to retry. */
export async function invokeBatchHandler<E>(invocation: BatchInvocation<E>): Promise<BatchFailures> {
  const { itemIds, source } = invocation;
  const wholeBatch = { itemIds: new Set(itemIds), wholeBatch: true };
  let response: unknown;
  try {
    const event = JSON.parse(JSON.stringify(invocation.event)) as E;
    response = JSON.parse(JSON.stringify((await invocation.handler(event, invocation.context)) ?? null)) as unknown;
  } catch (error) {
    console.error(`${source}: the handler failed; the whole batch is retried`, error);
    return wholeBatch;
  }
  const failed = failedItems(response, new Set(itemIds));
  if (failed === 'whole batch') {
    console.error(
      `${source}: the handler's answer is not a partial batch response naming items of the batch; the whole batch is retried`,
    );
    return wholeBatch;
  }
  return { itemIds: failed, wholeBatch: false };
}

function failedItems(response: unknown, itemIds: ReadonlySet<string>): Set<string> | 'whole batch' {
  if (response === null) return new Set();
  if (typeof response !== 'object' || Array.isArray(response)) return 'whole batch';
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return 'whole batch';
  const failed = new Set<string>();
  for (const failure of failures as unknown[]) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !itemIds.has(id)) return 'whole batch';
    failed.add(id);
  }
  return failed;
}
