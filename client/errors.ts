/**
 * Every error the usage client throws, reports to `onError`, or rejects with: a `UsageClientError`, named with the
 * `Error` suffix; `instanceof` tells them apart.
 */
import type { AggregatedUsageEvent } from './usage-events.ts';

export class UsageClientError extends Error {
  override readonly name: string = 'UsageClientError';
}

/** The options cannot make a client: a URL that is not one, plain HTTP to another machine, no region to sign for. */
export class UsageClientConfigError extends UsageClientError {
  override readonly name = 'UsageClientConfigError';
}

/** Thrown by `record()` for an event its caller got wrong: nothing of it was buffered. */
export class InvalidUsageEventError extends UsageClientError {
  override readonly name = 'InvalidUsageEventError';
}

/** Thrown by `record()` once `close()` was called: a closed client sends nothing more. */
export class UsageClientClosedError extends UsageClientError {
  override readonly name = 'UsageClientClosedError';

  constructor() {
    super('The usage client is closed: record() after close() would never be sent');
  }
}

/**
 * To `onError`: a call was tried until its attempts ran out (503, 429, other 5xx, network errors, unreadable answers,
 * API Gateway's 403 for a signature outside its 5 minutes or an expired token; the last failure is the `cause`), or
 * `close()`'s deadline stopped it (a {@link CloseTimeoutError} is the cause). Nothing is lost: its events, and any the flush had not sent yet, are kept, and the
 * next flush sends them again with the same ids and contents, so whatever of them the API did record is answered
 * `duplicate` and counted once.
 */
export class UsageCallFailedError extends UsageClientError {
  override readonly name = 'UsageCallFailedError';
  /** The events of the call that failed (kept). */
  readonly events: readonly AggregatedUsageEvent[];
  readonly attempts: number;
  /** The last attempt's HTTP status, when it had an answer. */
  readonly status: number | undefined;
  /** App events kept, these and others: the next flush sends them again (a closing client hands them back). */
  readonly pendingAppEvents: number;

  constructor(
    events: readonly AggregatedUsageEvent[],
    attempts: number,
    status: number | undefined,
    pendingAppEvents: number,
    cause: unknown,
    /** The flush was `close()`'s: there is no next one, `close()` hands the events back. */
    lastFlush = false,
  ) {
    const kept = lastFlush ? 'handed back by close()' : 'kept for the next flush';
    super(
      `POST /usage failed after ${counted(attempts, 'attempt')} (${describe(cause)}); ` +
        `${counted(pendingAppEvents, 'app event')} ${pendingAppEvents === 1 ? 'is' : 'are'} ${kept}`,
      { cause },
    );
    this.events = events;
    this.attempts = attempts;
    this.status = status;
    this.pendingAppEvents = pendingAppEvents;
  }
}

/**
 * To `onError`: the API refused a whole call with a 4xx (other than 429), or a redirect answered it: 400 malformed, 403
 * not allowed (credentials, IAM policy), 413 too large... Sent again it would be refused again, so it is not: its
 * events are dropped from the client, and here they are, app events included, for the app to log, keep or fix.
 */
export class UsageCallRefusedError extends UsageClientError {
  override readonly name = 'UsageCallRefusedError';

  readonly status: number;
  /** What the API said: its `message`, a page's title, or the start of the body. */
  readonly apiMessage: string;
  readonly events: readonly AggregatedUsageEvent[];

  constructor(status: number, apiMessage: string, events: readonly AggregatedUsageEvent[]) {
    const appEvents = events.reduce((sum, event) => sum + event.appEvents.length, 0);
    // API Gateway's answer to a signed call at an address it has no route for: the URL, not the credentials.
    const hint =
      status === 403 && apiMessage === 'Missing Authentication Token'
        ? " (API Gateway's answer for an address with no route: check usageUrl against the stack's UsageUrl output)"
        : '';
    super(
      `POST /usage refused a call of ${counted(events.length, 'event')} with ${status}: ${apiMessage}${hint}; its ` +
        `${counted(appEvents, 'app event')} ${appEvents === 1 ? 'is' : 'are'} not sent again (on this error)`,
    );
    this.status = status;
    this.apiMessage = apiMessage;
    this.events = events;
  }
}

/**
 * `close()` rejects with it when its last flush could not deliver everything: these events were never answered (the
 * API may have recorded some of them). Sending them again with their ids, from another client or process, is safe.
 */
export class UsageNotDeliveredError extends UsageClientError {
  override readonly name = 'UsageNotDeliveredError';

  readonly events: readonly AggregatedUsageEvent[];

  constructor(events: readonly AggregatedUsageEvent[], options: { cause?: unknown } = {}) {
    super(
      `${counted(events.length, 'usage event')} ${events.length === 1 ? 'was' : 'were'} not delivered when the client ` +
        'closed',
      options,
    );
    this.events = events;
  }
}

/**
 * The cause of the calls `close({ timeoutMs })` stopped when its deadline passed: the attempt under way was abandoned
 * (it may have been counted) and no other was made; their events are in the {@link UsageNotDeliveredError}.
 */
export class CloseTimeoutError extends UsageClientError {
  override readonly name = 'CloseTimeoutError';

  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(`close() gave up after its ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The cause of a failed call: the API refused it with a 4xx after an earlier attempt carrying its events (in this flush
 * or an earlier one) whose answer was lost (a dropped connection, a timeout, a 5xx), which may have been counted. The
 * refusal says nothing of that attempt, so the events are kept, pending, to be sent again with their ids (answered
 * `duplicate` if they were counted), never dropped as refused: an app that recorded them again would count them twice.
 */
export class RefusedAfterLostAnswerError extends UsageClientError {
  override readonly name = 'RefusedAfterLostAnswerError';

  readonly status: number;
  readonly apiMessage: string;

  constructor(status: number, apiMessage: string) {
    super(`POST /usage answered ${status} (${apiMessage}) after an attempt whose answer was lost`);
    this.status = status;
    this.apiMessage = apiMessage;
  }
}

/** The cause of a failed attempt: a 200 whose body is not the API's answer. */
export class UnreadableUsageAnswerError extends UsageClientError {
  override readonly name = 'UnreadableUsageAnswerError';

  constructor(body: string) {
    super(`a 200 that is not the API's answer (is usageUrl the API's address?): ${body === '' ? '(empty)' : body}`);
  }
}

/** The cause of a failed attempt: an answer that says to try again (503 with `Retry-After`, 429, another 5xx). */
export class RetryableUsageAnswerError extends UsageClientError {
  override readonly name = 'RetryableUsageAnswerError';

  readonly status: number;
  readonly apiMessage: string;

  constructor(status: number, apiMessage: string) {
    super(`POST /usage answered ${status}: ${apiMessage}`);
    this.status = status;
    this.apiMessage = apiMessage;
  }
}

/** `1 event`, `2 events`. */
export function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function describe(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  // fetch's own error says only "fetch failed"; what failed is its cause.
  return cause.cause instanceof Error ? `${cause.message}: ${cause.cause.message}` : cause.message;
}

/**
 * The names these errors had before they took the `Error` suffix, as values and types, for apps written against them;
 * they go in 0.2.0, the next release that may break an app. (`error.name` is the new name.)
 */
/** @deprecated Use `InvalidUsageEventError`. */
export const InvalidUsageEvent = InvalidUsageEventError;
/** @deprecated Use `InvalidUsageEventError`. */
export type InvalidUsageEvent = InvalidUsageEventError;
/** @deprecated Use `UsageClientClosedError`. */
export const UsageClientClosed = UsageClientClosedError;
/** @deprecated Use `UsageClientClosedError`. */
export type UsageClientClosed = UsageClientClosedError;
/** @deprecated Use `UsageCallFailedError`. */
export const UsageCallFailed = UsageCallFailedError;
/** @deprecated Use `UsageCallFailedError`. */
export type UsageCallFailed = UsageCallFailedError;
/** @deprecated Use `UsageCallRefusedError`. */
export const UsageCallRefused = UsageCallRefusedError;
/** @deprecated Use `UsageCallRefusedError`. */
export type UsageCallRefused = UsageCallRefusedError;
/** @deprecated Use `UsageNotDeliveredError`. */
export const UsageNotDelivered = UsageNotDeliveredError;
/** @deprecated Use `UsageNotDeliveredError`. */
export type UsageNotDelivered = UsageNotDeliveredError;
/** @deprecated Use `UnreadableUsageAnswerError`. */
export const UnreadableUsageAnswer = UnreadableUsageAnswerError;
/** @deprecated Use `UnreadableUsageAnswerError`. */
export type UnreadableUsageAnswer = UnreadableUsageAnswerError;
/** @deprecated Use `RetryableUsageAnswerError`. */
export const RetryableUsageAnswer = RetryableUsageAnswerError;
/** @deprecated Use `RetryableUsageAnswerError`. */
export type RetryableUsageAnswer = RetryableUsageAnswerError;
