/**
 * What recording sends to DynamoDB again, and when. The SDK would resend any request whose answer it did not get (a
 * dropped connection, a timeout, a 5xx), and a plain `ADD` sent again after DynamoDB had applied it counts twice, while
 * the call is answered `accepted` once. So the usage function's client makes one attempt a request, and recording
 * resends a request itself only where that is safe: a read, or a transaction with its `ClientRequestToken` (DynamoDB
 * applies it once, and answers a repeat as the first); the plain update only when DynamoDB refused it (throttling).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BackendError } from '../../errors.ts';

/** DynamoDB did not say whether a write was applied: the call may, or may not, have been recorded. */
export class UsageOutcomeUnknownError extends BackendError {
  override readonly name = 'UsageOutcomeUnknownError';
}

/** How a request may be sent again: a read or a token's transaction whatever happened, a plain write only if refused. */
export type Resending = 'read' | 'idempotent-write' | 'write';

/** Attempts at one request that DynamoDB throttles or, where sending it again is safe, leaves unanswered. */
const SEND_ATTEMPTS = 3;

/**
 * The refusals that ask for the request again: DynamoDB's rate limits (nothing of it was applied), and a transaction
 * whose earlier attempt, with the same token, is still being applied (the repeat then answers as that one did).
 */
const REFUSED_FOR_NOW = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TransactionInProgressException',
]);

/** A random, growing pause before another attempt, so that writers racing for one bucket do not collide in step. */
export const retryPause = (attempt: number) => sleep(Math.random() * Math.min(1000, 20 * 2 ** attempt));

/**
 * Whether DynamoDB answered the request and refused it (a 4xx: nothing of it was applied). A 5xx, or no answer at all,
 * says nothing of whether it was.
 */
function wasRefused(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return status !== undefined && status >= 400 && status < 500;
}

/**
 * Sends a request, again (after a pause) while DynamoDB throttles it or, for a request that may be sent again whatever
 * happened, leaves its outcome unknown. A write whose outcome stays unknown throws `UsageOutcomeUnknownError`; any other
 * failure is thrown as it came, and means that nothing was written.
 */
export async function sendWithAttempts<T>(send: () => Promise<T>, resending: Resending): Promise<T> {
  let unanswered = false;
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      const refused = wasRefused(error);
      // Refused for good, after an attempt that went unanswered too: a token's transaction, answered as the first was.
      if (refused && !REFUSED_FOR_NOW.has((error as Error).name)) throw error;
      unanswered ||= !refused;
      const sendAgain = refused || resending !== 'write';
      if (!sendAgain || attempt >= SEND_ATTEMPTS) {
        if (unanswered && resending !== 'read') {
          throw new UsageOutcomeUnknownError('DynamoDB did not answer whether the usage was written', { cause: error });
        }
        throw error;
      }
      await retryPause(attempt);
    }
  }
}
