/**
 * One call of `POST /usage`, SigV4-signed for `execute-api`, retried while retrying can help: a 503 or 429 (after its
 * `Retry-After`), any other 5xx, a network error or timeout, an answer that cannot be read, and API Gateway's 403s that
 * another attempt can cure: a signature outside its 5 minutes (the machine's clock is off: the next attempt signs with
 * the time API Gateway's `Date` said, as the AWS SDKs do) or an expired security token (the credentials provider is
 * asked again). The events carry their ids, so a call sent again after an answer that was lost is counted once
 * (`duplicate`). Any other 4xx is the API refusing the call itself: it would refuse it again, so it is not retried. A
 * refusal that follows an attempt whose answer was lost (in this call, or in an earlier one the caller names) says
 * nothing of that attempt, which may have been counted: the call is then failed, not refused, so that its events stay
 * pending with their ids.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { RefusedAfterLostAnswerError, RetryableUsageAnswerError, UnreadableUsageAnswerError } from './errors.ts';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** Asked before every attempt, so that it may refresh credentials as they expire (the SDK's providers cache them). */
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

/** How long a call is tried: attempts, the pause between them, and how long one attempt may take. */
export interface RetryOptions {
  /** Attempts per call, the first one included. */
  readonly maxAttempts: number;
  /** The backoff ceiling before the first retry; it doubles for each retry after that, up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** How long one attempt may take before it is given up as failed (and retried). */
  readonly requestTimeoutMs: number;
}

/** The API's answer for one event. */
export type UsageResult =
  | { readonly status: 'accepted'; readonly hour: string; readonly carriedFrom?: string }
  | { readonly status: 'duplicate' }
  | { readonly status: 'conflict'; readonly message: string }
  | {
      readonly status: 'rejected';
      readonly reason: string;
      readonly message: string;
      /** For usage after the subscription's end: the last instant the API bills (ISO 8601; ignored if not a date). */
      readonly billableUntil?: string;
    };

/**
 * What became of a call, after its retries. `attempts`: the attempts it took; `requests`: the HTTP requests among them
 * (an attempt may end before one is sent, for want of credentials).
 */
export type CallOutcome = { readonly attempts: number; readonly requests: number } & (
  | { readonly kind: 'answered'; readonly results: readonly UsageResult[] }
  /** A 4xx other than 429, or a redirect: the call itself is refused. */
  | { readonly kind: 'refused'; readonly status: number; readonly message: string }
  /**
   * Every attempt failed in a way another could fix, or `signal` stopped them; `status` is the last one's, when it had
   * an answer. `mayHaveCounted`: some attempt (this time or, as the caller said, an earlier one) may have been counted.
   */
  | {
      readonly kind: 'failed';
      readonly status?: number;
      readonly cause: unknown;
      readonly mayHaveCounted: boolean;
    }
);

/** What one attempt came to; `sent`: whether an HTTP request went out. */
type AttemptResult = { readonly sent: boolean } & (
  | { readonly kind: 'answered'; readonly results: readonly UsageResult[] }
  | { readonly kind: 'refused'; readonly status: number; readonly message: string }
  | {
      readonly kind: 'retryable';
      readonly status?: number;
      readonly retryAfterMs?: number;
      readonly cause: unknown;
      /**
       * Whether the API may have counted the attempt: all but those API Gateway answered itself (its throttling 429, a
       * signature it refused) may have reached it.
       */
      readonly mayHaveCounted: boolean;
    }
);

export interface UsageTransportOptions {
  readonly usageUrl: URL;
  readonly region: string;
  readonly credentials: AwsCredentials | AwsCredentialsProvider | undefined;
  readonly retry: RetryOptions;
  /** Signs with its time, so that the signature's date and the events' hours come from one clock. */
  readonly clock: { now(): Date };
  /** Rejects when `signal` aborts. */
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** A `Retry-After` longer than this is read as this: the flush should not stall behind one header. */
const MAX_RETRY_AFTER_MS = 30_000;

/** The longest wait a timer takes (2^31 - 1 ms, about 24.8 days): Node.js runs a longer one at once. */
export const LONGEST_WAIT_MS = 2_147_483_647;

/** API Gateway's words for a signature dated outside its 5 minutes: the signer's clock is off. */
const CLOCK_SKEW = /^Signature (expired|not yet current):/;
/** API Gateway's words for temporary credentials past their expiry: a provider gives fresh ones when asked again. */
const EXPIRED_TOKEN = /security token included in the request is expired/i;

export class UsageTransport {
  private readonly signer: SignatureV4;
  /** How far API Gateway's clock is ahead of `clock` (negative: behind), learned from a refused signature's answer. */
  private clockOffsetMs = 0;

  private readonly options: UsageTransportOptions;

  constructor(options: UsageTransportOptions) {
    this.options = options;
    this.signer = new SignatureV4({
      service: 'execute-api',
      region: options.region,
      credentials: options.credentials ?? defaultProvider(),
      sha256: Sha256,
    });
  }

  /**
   * Sends `events` (as the API takes them) until answered, refused, or out of attempts. `answerLost`: an earlier call
   * carrying some of these events may have been counted, so a refusal says nothing of them either. `signal` stops the
   * attempts (the one under way too): the call then fails with its reason as the cause.
   */
  async send(
    events: readonly Record<string, unknown>[],
    { answerLost = false, signal }: { answerLost?: boolean; signal?: AbortSignal } = {},
  ): Promise<CallOutcome> {
    const body = JSON.stringify({ events });
    const { maxAttempts } = this.options.retry;
    let mayHaveCounted = answerLost;
    let requests = 0;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) {
        return { kind: 'failed', attempts: attempt - 1, requests, cause: signal.reason, mayHaveCounted };
      }
      const result = await this.attempt(body, events.length, signal);
      if (result.sent) requests++;
      if (result.kind === 'refused' && mayHaveCounted) {
        const cause = new RefusedAfterLostAnswerError(result.status, result.message);
        return { kind: 'failed', attempts: attempt, requests, status: result.status, cause, mayHaveCounted };
      }
      if (result.kind !== 'retryable') return { ...result, attempts: attempt, requests };
      mayHaveCounted ||= result.mayHaveCounted;
      const failed = { kind: 'failed', attempts: attempt, requests, status: result.status, mayHaveCounted } as const;
      if (attempt >= maxAttempts || signal?.aborted) return { ...failed, cause: signal?.reason ?? result.cause };
      try {
        await this.options.sleep(this.pauseBefore(attempt, result.retryAfterMs), signal);
      } catch {
        return { ...failed, cause: signal?.reason ?? result.cause };
      }
    }
  }

  private async attempt(body: string, eventCount: number, signal: AbortSignal | undefined): Promise<AttemptResult> {
    let status: number;
    let text: string;
    let retryAfter: string | null;
    let date: string | null;
    let location: string | null;
    let signedAt: Date;
    let sent = false;
    // One controller per attempt, let go of when it ends: `AbortSignal.any` with the client's lifelong signal would
    // keep every attempt's signal alive on Node.js 20 (nodejs/node#55351).
    const attempt = new AbortController();
    const stop = () => attempt.abort(signal?.reason);
    signal?.addEventListener('abort', stop, { once: true });
    const timer = setTimeout(
      () => attempt.abort(new DOMException('The attempt took longer than retry.requestTimeoutMs', 'TimeoutError')),
      this.options.retry.requestTimeoutMs,
    );
    try {
      signedAt = new Date(this.options.clock.now().getTime() + this.clockOffsetMs);
      // A credentials provider may take long (SSO, instance metadata): the deadline and the timeout cover it too.
      const { headers } = await untilAborted(this.sign(body, signedAt), attempt.signal);
      sent = true;
      const response = await fetch(this.options.usageUrl, {
        method: 'POST',
        // fetch sets `host` from the URL itself (the value that was signed) and ignores one passed to it.
        headers: Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'host')),
        body,
        // A signed call is for this URL only: a redirect is a misconfigured URL, answered as a refusal below.
        redirect: 'manual',
        signal: attempt.signal,
      });
      status = response.status;
      retryAfter = response.headers.get('retry-after');
      date = response.headers.get('date');
      location = response.headers.get('location');
      text = await response.text();
    } catch (cause) {
      return { sent, kind: 'retryable', cause, mayHaveCounted: sent };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
    }
    // The API answers 200; another 2xx (a proxy's, a later version's) may have counted the call all the same.
    if (status >= 200 && status < 300) {
      const results = resultsOf(text, eventCount);
      if (results !== undefined) return { sent, kind: 'answered', results };
      const cause = new UnreadableUsageAnswerError(excerpt(text));
      return { sent, kind: 'retryable', status, cause, mayHaveCounted: true };
    }
    if (status === 429 || status >= 500) {
      return {
        sent,
        kind: 'retryable',
        status,
        retryAfterMs: retryAfterMs(retryAfter, date, this.options.clock.now()),
        cause: new RetryableUsageAnswerError(status, messageOf(text)),
        mayHaveCounted: status !== 429,
      };
    }
    if (status >= 300 && status < 400) {
      const message = `a redirect to ${location ?? 'nowhere'}: usageUrl is not the API's address`;
      return { sent, kind: 'refused', status, message };
    }
    const message = messageOf(text);
    if (status === 403 && (CLOCK_SKEW.test(message) || EXPIRED_TOKEN.test(message))) {
      const serverTime = date === null ? Number.NaN : Date.parse(date);
      if (CLOCK_SKEW.test(message) && Number.isFinite(serverTime)) {
        this.clockOffsetMs += serverTime - signedAt.getTime();
      }
      const cause = new RetryableUsageAnswerError(status, message);
      return { sent, kind: 'retryable', status, retryAfterMs: 0, cause, mayHaveCounted: false };
    }
    return { sent, kind: 'refused', status, message };
  }

  private async sign(body: string, signingDate: Date) {
    const url = this.options.usageUrl;
    return this.signer.sign(
      {
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port === '' ? undefined : Number(url.port),
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: { host: url.host, 'content-type': 'application/json' },
        body,
      },
      { signingDate },
    );
  }

  /**
   * "Equal jitter": half of the exponential step fixed, half random, so that clients failing together spread out
   * yet none retries at once; after the API's `Retry-After` when it gave one. Never longer than a timer keeps.
   */
  private pauseBefore(attempt: number, retryAfter: number | undefined): number {
    const { baseDelayMs, maxDelayMs } = this.options.retry;
    const step = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    return Math.min(LONGEST_WAIT_MS, (retryAfter ?? 0) + step / 2 + Math.random() * (step / 2));
  }
}

/** `work`, or its signal's reason as soon as the signal aborts, whichever comes first. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  let stop: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    stop = () => reject(signal.reason as Error);
    signal.addEventListener('abort', stop, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => signal.removeEventListener('abort', stop));
}

/** HTTP's date format (IMF-fixdate): `Sun, 06 Nov 1994 08:49:37 GMT`. `Date.parse` alone takes much that is not. */
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * How long `Retry-After` asks to wait, capped: seconds, or an HTTP date (as a proxy may send it) counted from the
 * answer's own `Date`, so that this machine's clock being off does not matter (its time when the answer has none).
 */
function retryAfterMs(header: string | null, date: string | null, now: Date): number | undefined {
  const text = header?.trim() ?? '';
  if (/^\d+$/.test(text)) return Math.min(MAX_RETRY_AFTER_MS, Number(text) * 1000);
  if (!HTTP_DATE.test(text)) return undefined;
  const answeredAt = date !== null && HTTP_DATE.test(date.trim()) ? Date.parse(date) : now.getTime();
  const ms = Date.parse(text) - answeredAt;
  return Number.isNaN(ms) ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

const STATUSES = new Set(['accepted', 'duplicate', 'conflict', 'rejected']);

/** The results of a 2xx answer, one per event sent, or `undefined` when the body is not such an answer. */
function resultsOf(text: string, eventCount: number): UsageResult[] | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  const results = isObject(body) ? body.results : undefined;
  if (!Array.isArray(results) || results.length !== eventCount) return undefined;
  return results.every(isUsageResult) ? results : undefined;
}

function isUsageResult(value: unknown): value is UsageResult {
  if (!isObject(value) || typeof value.status !== 'string' || !STATUSES.has(value.status)) return false;
  if (value.status === 'accepted') return typeof value.hour === 'string';
  if (value.status === 'conflict') return typeof value.message === 'string';
  if (value.status === 'rejected') return typeof value.reason === 'string' && typeof value.message === 'string';
  return true;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The API's `{"message"}`, or the start of whatever else answered (API Gateway's own pages, a proxy's). */
function messageOf(text: string): string {
  try {
    const body: unknown = JSON.parse(text);
    if (isObject(body) && typeof body.message === 'string') return body.message;
  } catch {
    // Not JSON: said as it is, below.
  }
  // A page (a proxy's, or a buyer page's at a wrong usageUrl): its title says more than its first bytes.
  const title = /<title>([^<]{1,200})<\/title>/i.exec(text)?.[1]?.trim();
  return title === undefined ? excerpt(text) : `an HTML page, "${title}"`;
}

function excerpt(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
