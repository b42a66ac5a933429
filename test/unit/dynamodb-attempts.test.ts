import { expect, test } from 'vitest';
import {
  sendWithAttempts,
  UsageOutcomeUnknownError,
  type Resending,
} from '../../lambdas/core/metering/recording/dynamodb-attempts.ts';

/** An error as the SDK gives it: DynamoDB's answer carries its HTTP status; a lost connection has none. */
function failure(name: string, httpStatusCode?: number): Error {
  return Object.assign(new Error(name), {
    name,
    $metadata: httpStatusCode === undefined ? {} : { httpStatusCode },
  });
}
const THROTTLED = () => failure('ProvisionedThroughputExceededException', 400);
const UNANSWERED = () => failure('ECONNRESET');
const SERVER_ERROR = () => failure('InternalServerError', 500);

/** Sends through `sendWithAttempts`, failing with `failures` in turn, then answering `'done'`; counts the attempts. */
async function attempts(resending: Resending, failures: readonly (() => Error)[]) {
  let made = 0;
  const send = () => {
    const fail = failures[made++];
    return fail === undefined ? Promise.resolve('done') : Promise.reject(fail());
  };
  const outcome = await sendWithAttempts(send, resending).then(
    (value) => value,
    (error: unknown) => error,
  );
  return { outcome, made };
}

test('a plain write is sent again only when DynamoDB refused it; unanswered, its outcome is unknown at once', async () => {
  expect(await attempts('write', [THROTTLED, THROTTLED])).toEqual({ outcome: 'done', made: 3 });
  // It met a transaction on its bucket: refused, nothing applied.
  const conflict = () => failure('TransactionConflictException', 400);
  expect(await attempts('write', [conflict])).toEqual({ outcome: 'done', made: 2 });
  for (const lost of [UNANSWERED, SERVER_ERROR]) {
    const { outcome, made } = await attempts('write', [lost]);
    expect(outcome).toBeInstanceOf(UsageOutcomeUnknownError);
    expect(made).toBe(1);
  }
  // Refused first, then unanswered: the second attempt may have been applied.
  expect((await attempts('write', [THROTTLED, UNANSWERED])).outcome).toBeInstanceOf(UsageOutcomeUnknownError);
});

test("a token's transaction is sent again whatever happened; unanswered three times, its outcome is unknown", async () => {
  expect(await attempts('idempotent-write', [UNANSWERED, SERVER_ERROR])).toEqual({ outcome: 'done', made: 3 });
  const lost = await attempts('idempotent-write', [UNANSWERED, UNANSWERED, UNANSWERED]);
  expect(lost.outcome).toBeInstanceOf(UsageOutcomeUnknownError);
  expect(lost.made).toBe(3);
  // The first attempt still being applied: the repeat waits for it, and answers as it did.
  const inProgress = () => failure('TransactionInProgressException', 400);
  expect(await attempts('idempotent-write', [UNANSWERED, inProgress])).toEqual({ outcome: 'done', made: 3 });
  // Throttled every time: refused, nothing written, thrown as it came.
  const throttled = await attempts('idempotent-write', [THROTTLED, THROTTLED, THROTTLED]);
  expect((throttled.outcome as Error).name).toBe('ProvisionedThroughputExceededException');
});

test('a refusal for good is thrown at once, as it came: nothing was written', async () => {
  for (const resending of ['read', 'write', 'idempotent-write'] as const) {
    const { outcome, made } = await attempts(resending, [() => failure('TransactionCanceledException', 400)]);
    expect((outcome as Error).name).toBe('TransactionCanceledException');
    expect(made).toBe(1);
  }
  // Unanswered, then refused for good: the transaction's repeat says the first attempt was not applied.
  const answered = await attempts('idempotent-write', [UNANSWERED, () => failure('TransactionCanceledException', 400)]);
  expect((answered.outcome as Error).name).toBe('TransactionCanceledException');
});

test('a read is sent again whatever happened, and fails as it came: a read writes nothing', async () => {
  expect(await attempts('read', [UNANSWERED, THROTTLED])).toEqual({ outcome: 'done', made: 3 });
  const { outcome, made } = await attempts('read', [UNANSWERED, UNANSWERED, UNANSWERED]);
  expect((outcome as Error).name).toBe('ECONNRESET');
  expect(made).toBe(3);
});

test('a request that never left (no connection, no credentials) is sent again, as nothing of it was applied', async () => {
  const refusedConnection = () => Object.assign(failure('Error'), { code: 'ECONNREFUSED' });
  const noRoute = () => Object.assign(failure('Error'), { code: 'EHOSTUNREACH' });
  const noCredentials = () => Object.assign(new Error('no credentials'), { name: 'CredentialsProviderError' });
  expect(await attempts('write', [refusedConnection, noCredentials])).toEqual({ outcome: 'done', made: 3 });
  expect(await attempts('write', [noRoute])).toEqual({ outcome: 'done', made: 2 });
  const { outcome } = await attempts('write', [refusedConnection, refusedConnection, refusedConnection]);
  expect((outcome as { code?: string }).code).toBe('ECONNREFUSED');
});

test("after an unanswered attempt, a refusal other than a cancellation leaves the transaction's outcome unknown", async () => {
  const expiredToken = () => failure('ExpiredTokenException', 400);
  expect((await attempts('idempotent-write', [UNANSWERED, expiredToken])).outcome).toBeInstanceOf(
    UsageOutcomeUnknownError,
  );
  // Without one unanswered before, the refusal says that nothing was written.
  expect(((await attempts('idempotent-write', [expiredToken])).outcome as Error).name).toBe('ExpiredTokenException');
});
