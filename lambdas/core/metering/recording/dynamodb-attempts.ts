/**
 * What recording sends to DynamoDB again, and when. The SDK would resend any request whose answer it did not get (a
 * dropped connection, a timeout, a 5xx), and a plain `ADD` sent again after DynamoDB had applied it counts twice, while
 * the call is answered `accepted` once. So the usage function's client makes one attempt a request, and recording
 * resends a request itself only where that is safe: a read, or a transaction with its `ClientRequestToken` (DynamoDB
 * applies it once: a repeat of one applied succeeds and changes nothing); the plain update only when it surely was not
 * applied (refused for now, or never sent).
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
 * The refusals that ask for the request again: DynamoDB's rate limits, and a plain update that met a transaction on its
 * item (nothing of either was applied), and a transaction whose earlier attempt, with the same token, is still being
 * applied (the repeat then answers as that one did).
 */
const REFUSED_FOR_NOW = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TransactionConflictException',
  'TransactionInProgressException',
]);

/** Failures before the request left: no connection or no route (`code`), or no credentials to sign it (`name`). */
const NEVER_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'CredentialsProviderError',
]);

/** A random, growing pause before another attempt, so that writers racing for one bucket do not collide in step. */
export const retryPause = (attempt: number) => sleep(Math.random() * Math.min(1000, 20 * 2 ** attempt));

/**
 * What a failed attempt says of the request: `refused`, for good, by DynamoDB (a 4xx); `not-yet` applied and worth
 * sending again (throttled, or it never left); `unanswered`: a 5xx, a reset connection or a timeout, which say nothing
 * of whether it was applied.
 */
function failureOf(error: unknown): 'refused' | 'not-yet' | 'unanswered' {
  const { $metadata, code, name } = (error ?? {}) as {
    $metadata?: { httpStatusCode?: number };
    code?: string;
    name?: string;
  };
  const status = $metadata?.httpStatusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return REFUSED_FOR_NOW.has(name ?? '') ? 'not-yet' : 'refused';
  }
  return status === undefined && NEVER_SENT.has(code ?? name ?? '') ? 'not-yet' : 'unanswered';
}

/**
 * Sends a request, again (after a pause) while it has not been applied yet (throttled, not sent) or, for a request that
 * may be sent again whatever happened, while its outcome is unknown. A write whose outcome stays unknown throws
 * `UsageOutcomeUnknownError`; any other failure is thrown as it came, and means that nothing was written.
 */
export async function sendWithAttempts<T>(send: () => Promise<T>, resending: Resending): Promise<T> {
  let unanswered = false;
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      const failure = failureOf(error);
      unanswered ||= failure === 'unanswered';
      const outcomeUnknown = unanswered && resending !== 'read';
      if (failure === 'refused') {
        // After an attempt that went unanswered, only a cancellation says that the token's transaction was not applied
        // (DynamoDB answers the repeat of one that was as it did the first); any other refusal says nothing of it.
        if (outcomeUnknown && (error as Error).name !== 'TransactionCanceledException') {
          throw outcomeUnknownError(error);
        }
        throw error;
      }
      const sendAgain = failure === 'not-yet' || resending !== 'write';
      if (!sendAgain || attempt >= SEND_ATTEMPTS) throw outcomeUnknown ? outcomeUnknownError(error) : error;
      await retryPause(attempt);
    }
  }
}

function outcomeUnknownError(cause: unknown): UsageOutcomeUnknownError {
  return new UsageOutcomeUnknownError('DynamoDB did not answer whether the usage was written', { cause });
}
