/**
 * The usage client: the seller's app records usage as it happens (`record()`, synchronous and cheap), and the client
 * sends it to `POST /usage` summed, every `flushIntervalMs`, in calls of at most 50 events, SigV4-signed.
 *
 * Delivery: every app event ends in exactly one of three places. Delivered (the API answered `accepted` or
 * `duplicate`); refused, and handed to `onRefused` (`rejected`, `conflict`) or `onError` (a call refused whole with a
 * 4xx); or still pending in the client, which sends it again at the next flush. Each aggregated event gets its id when
 * it is sealed and keeps it, with its contents, until it is answered, so sending a call again after a lost answer
 * counts it once. `close()` flushes a last time, within a deadline if given, and rejects with what it could not
 * deliver; `resend()` takes such events back, ids and all, in this client or another.
 *
 * @example
 * const usage = new UsageClient({ usageUrl: process.env.USAGE_URL! });
 * usage.record({ subscriberId, dimension: 'requests', quantity: 1 });
 * process.once('SIGTERM', () => void usage.close({ timeoutMs: 20_000 }).finally(() => process.exit(0)));
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  CloseTimeoutError,
  counted,
  InvalidUsageEventError,
  UsageCallFailedError,
  UsageCallRefusedError,
  UsageClientClosedError,
  UsageClientConfigError,
  UsageNotDeliveredError,
} from './errors.ts';
import {
  appEventCount,
  asGiven,
  handedBackEvent,
  nextCallLength,
  recordedEvent,
  splitAtEnd,
  UsageAggregator,
  wireEvent,
  type AggregatedUsageEvent,
  type UsageEvent,
} from './usage-events.ts';
import {
  LONGEST_WAIT_MS,
  UsageTransport,
  type AwsCredentials,
  type AwsCredentialsProvider,
  type RetryOptions,
  type UsageResult,
} from './usage-transport.ts';

export interface UsageClientOptions {
  /** The stack's `UsageUrl` output: `https://<api>.execute-api.<region>.amazonaws.com/prod/usage`. */
  readonly usageUrl: string;
  /**
   * The region to sign for; read from an `execute-api` host name when left out (needed for a custom domain, or
   * locally: the stack's region, us-east-1 unless `marketplace.region` names another).
   */
  readonly region?: string;
  /** What to sign with; by default the AWS SDK's Node.js chain (environment, SSO, web identity, files, ECS, EC2). */
  readonly credentials?: AwsCredentials | AwsCredentialsProvider;
  /** How long app events are summed before they are sent (default 5,000 ms), counted from the first one buffered. */
  readonly flushIntervalMs?: number;
  readonly retry?: Partial<RetryOptions>;
  /** An aggregated event the API refused (`rejected`, `conflict`): it will not be sent again. */
  readonly onRefused?: (refusal: UsageRefusal) => unknown;
  /** A call that failed after its retries (its events kept) or was refused whole (its events dropped, here). */
  readonly onError?: (error: UsageCallFailedError | UsageCallRefusedError) => unknown;
  /** After every flush, the interval's included: what it did, for the app's logs or metrics. */
  readonly onFlush?: (report: FlushReport) => unknown;
  /**
   * Where the client learns the time: default timestamps, the hours events are summed in, the signature's date (moved
   * by how far API Gateway's clock is found to be off, when it refuses a signature as outside its 5 minutes).
   */
  readonly clock?: { now(): Date };
  /** How the client waits: between flushes (aborted when a flush starts sooner), before a retry, `close()`'s deadline. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** What `onRefused` gets: the API's answer for one aggregated event, and that event with its app events. */
export type UsageRefusal = Extract<UsageResult, { status: 'rejected' | 'conflict' }> & {
  readonly event: AggregatedUsageEvent;
};

/** What `close()` may be given. */
export interface CloseOptions {
  /**
   * How long the last flush may take, retries included (none when left out): past it, the attempt under way is
   * abandoned and `close()` rejects with what was not delivered, in time for the process's own shutdown deadline.
   */
  readonly timeoutMs?: number;
}

/** What one flush did, counted in app events (what `record()` took). */
export interface FlushReport {
  /** HTTP requests made, retries included, answered or not (not attempts that ended for want of credentials). */
  readonly requests: number;
  /** Answered `accepted` or `duplicate`. */
  readonly delivered: number;
  /** Refused: by their sum (reported to `onRefused`) or with their call (to `onError`: `UsageCallRefusedError`). */
  readonly refused: number;
  /** Still in the client when the flush ended: unanswered (reported to `onError`), or recorded while it ran. */
  readonly pending: number;
}

const DEFAULT_FLUSH_INTERVAL_MS = 5_000;

/**
 * Five attempts with up to 0.25, 0.5, 1 and 2 s between them (plus any `Retry-After`): a flush rides out a brief
 * outage in some seconds, and what still fails waits for the next flush rather than holding this one up.
 */
const DEFAULT_RETRY: RetryOptions = { maxAttempts: 5, baseDelayMs: 250, maxDelayMs: 8_000, requestTimeoutMs: 10_000 };

/** Plain HTTP carries a session token in the clear: it is taken only to this machine (the local stack). */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

const EXECUTE_API_HOST = /\.execute-api\.([a-z0-9-]+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$/;

export class UsageClient {
  private readonly transport: UsageTransport;
  private readonly flushIntervalMs: number;
  private readonly clock: { now(): Date };
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly onRefused: (refusal: UsageRefusal) => unknown;
  private readonly onError: (error: UsageCallFailedError | UsageCallRefusedError) => unknown;
  private readonly onFlush: (report: FlushReport) => unknown;

  private readonly aggregator = new UsageAggregator();
  /** Sealed and not yet answered, oldest first: always sent before newer events, with the ids and contents sealed. */
  private readonly unanswered: AggregatedUsageEvent[] = [];
  /**
   * Ids of unanswered events that a call whose answer was lost carried: it may have been counted, so a later 4xx does
   * not make them refused (an app that recorded them again would count them twice); they stay pending.
   */
  private readonly mayHaveCounted = new Set<string>();
  /** Makes event ids unique across clients: with the seal number and the position, one id per aggregated event. */
  private readonly instanceId = randomUUID();
  private seals = 0;
  /** The last flush, so that the next one starts after it: one flush at a time, in order. */
  private flushing: Promise<unknown> = Promise.resolve();
  /** The pending wait for the next flush, when one is armed. */
  private interval: AbortController | undefined;
  /** The last flush's failed call, if it had one: what kept its events. */
  private lastFailure: UsageCallFailedError | undefined;
  private closed = false;
  private closing: Promise<FlushReport> | undefined;
  /** Aborted when a deadline `close()` was given passes: stops every send, the attempt under way too. */
  private readonly shutdown = new AbortController();
  /** Aborted once the last flush has ended: disarms the deadlines `close()` was given. */
  private readonly flushedLast = new AbortController();
  /** What the flushes that ended after `close()` was called did: the one under way then, and its own. */
  private sinceClose: FlushReport = { requests: 0, delivered: 0, refused: 0, pending: 0 };
  /** Async callbacks not yet settled: `close()` waits for them, so that an app keeping refused events gets to. */
  private readonly callbacksUnderway = new Set<Promise<void>>();

  constructor(options: UsageClientOptions) {
    checkedNames('', options, OPTION_NAMES);
    const usageUrl = checkedUrl(options.usageUrl);
    const retry = checkedRetry(options.retry);
    this.flushIntervalMs = checkedWait('flushIntervalMs', options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS);
    this.clock = checkedFunctions('clock', options.clock, ['now']) ?? { now: () => new Date() };
    this.sleep = checkedFunction('sleep', options.sleep) ?? ((ms, signal) => delay(ms, undefined, { signal }));
    this.onRefused = checkedFunction('onRefused', options.onRefused) ?? logRefusal;
    this.onError =
      checkedFunction('onError', options.onError) ?? ((error) => console.error(`usage client: ${error.message}`));
    this.onFlush = checkedFunction('onFlush', options.onFlush) ?? (() => undefined);
    this.transport = new UsageTransport({
      usageUrl,
      region: regionOf(usageUrl, options.region),
      credentials: options.credentials,
      retry,
      clock: this.clock,
      sleep: (ms, signal) => this.sleep(ms, signal),
    });
  }

  /** App events recorded and not yet delivered or refused: buffered, or sent and unanswered. */
  get pendingAppEvents(): number {
    return this.aggregator.size + appEventCount(this.unanswered);
  }

  /**
   * Buffers the event (a copy) to be summed and sent with the next flush. Throws {@link InvalidUsageEventError} for an
   * event that cannot be summed or is longer than the API takes (docs/usage-client.md lists the rules: a whole
   * quantity of 1 to 2,147,483,647, a subscriber id and a dimension of 1 to 1,600 and 255 characters, 1 to 5 tags, a
   * valid date at most 5 minutes ahead), and {@link UsageClientClosedError} after `close()`.
   */
  record(event: UsageEvent): void {
    if (this.closed) throw new UsageClientClosedError();
    this.aggregator.add(recordedEvent(event, this.clock.now()));
    this.armInterval();
  }

  /**
   * Sends everything recorded so far (after any flush under way), and resolves once each call is answered or out of
   * attempts. Never rejects for delivery: what failed stays pending (and was reported to `onError`).
   */
  flush(): Promise<FlushReport> {
    return this.queueFlush(false);
  }

  /** `last`: the flush `close()` makes, after which nothing is sent again: what it keeps is handed back. */
  private queueFlush(last: boolean): Promise<FlushReport> {
    const report = this.flushing.then(() => this.flushNow(last));
    this.flushing = report.catch(() => undefined);
    return report;
  }

  /**
   * Queues events handed back (unanswered, by {@link UsageNotDeliveredError} or {@link UsageCallFailedError}; or
   * refused whole, by {@link UsageCallRefusedError}, once its cause is fixed), of this client or another, also after a
   * trip through JSON, for the next flush, with their ids and contents: the API counts each id once, so what an
   * earlier attempt did count is answered `duplicate`. Never `record()` their usage again, which would give it new
   * ids. An event whose id is already pending here is skipped. Throws {@link InvalidUsageEventError} for anything but an
   * array of events, or an event not of that shape (nothing queued), {@link UsageClientClosedError} after `close()`.
   */
  resend(events: readonly AggregatedUsageEvent[]): void {
    if (this.closed) throw new UsageClientClosedError();
    // Kept events read back from a store may come back as anything: say so as the client's own error.
    if (!Array.isArray(events)) {
      throw new InvalidUsageEventError(`resend() takes an array of handed-back events, not ${asGiven(events)}`);
    }
    const checked = events.map(handedBackEvent);
    // Checked whole before anything is queued: an id pending (or given twice) with other contents refuses them all.
    const queued = new Map(this.unanswered.map((event) => [event.eventId, JSON.stringify(wireEvent(event))]));
    const added: AggregatedUsageEvent[] = [];
    for (const event of checked) {
      const wire = JSON.stringify(wireEvent(event));
      const known = queued.get(event.eventId);
      if (known !== undefined && known !== wire) {
        throw new InvalidUsageEventError(`a handed-back event has the id ${event.eventId} of another one pending`);
      }
      if (known !== undefined) continue;
      queued.set(event.eventId, wire);
      added.push(event);
    }
    for (const event of added) {
      this.unanswered.push(event);
      // Unanswered before: it may have been counted, so a refusal of its call must not drop it (see mayHaveCounted).
      this.mayHaveCounted.add(event.eventId);
    }
    this.armInterval();
  }

  /**
   * Flushes a last time and closes the client (`record()` throws from now on). Answers what the flushes that ended
   * meanwhile did (a flush under way when it was called, and its own); rejects with {@link UsageNotDeliveredError},
   * carrying the events, when something could still not be delivered, at the latest `timeoutMs` after the call (a
   * deadline already past, below 0, gives up at once). Calling it again answers the same promise, and a deadline given
   * then counts too: the earliest one wins.
   */
  close(options: CloseOptions = {}): Promise<FlushReport> {
    const { timeoutMs } = options;
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs))) {
      return Promise.reject(
        new UsageClientConfigError(`timeoutMs must be a number of milliseconds, not ${asGiven(timeoutMs)}`),
      );
    }
    this.closed = true;
    this.closing ??= this.closeNow();
    if (timeoutMs !== undefined) this.armDeadline(Math.min(LONGEST_WAIT_MS, Math.max(0, timeoutMs)));
    return this.closing;
  }

  private async closeNow(): Promise<FlushReport> {
    this.disarmInterval();
    try {
      await this.queueFlush(true);
      await this.callbacksSettled();
    } finally {
      this.flushedLast.abort();
    }
    if (this.unanswered.length > 0) {
      // What kept them: the last call that failed, or else the deadline that stopped the sends before any.
      const cause =
        this.lastFailure ?? (this.shutdown.signal.aborted ? (this.shutdown.signal.reason as unknown) : undefined);
      throw new UsageNotDeliveredError(this.unanswered.splice(0), { cause });
    }
    return this.sinceClose;
  }

  /** Once every async callback under way has settled, or `close()`'s deadline has passed. */
  private async callbacksSettled(): Promise<void> {
    const { signal } = this.shutdown;
    if (this.callbacksUnderway.size === 0 || signal.aborted) return;
    await new Promise<void>((settled) => {
      signal.addEventListener('abort', () => settled(), { once: true });
      void Promise.allSettled([...this.callbacksUnderway]).then(() => settled());
    });
  }

  /**
   * Calls an app's callback: one that throws, or (async) rejects, is logged and the flush goes on; an unhandled
   * rejection would end a Node process by default.
   */
  private notify<T>(callback: (value: T) => unknown, value: T): void {
    let settled: Promise<void>;
    try {
      settled = Promise.resolve(callback(value)).then(() => undefined, complain);
    } catch (error) {
      return complain(error);
    }
    this.callbacksUnderway.add(settled);
    void settled.then(() => this.callbacksUnderway.delete(settled));
  }

  /** Stops the sends `timeoutMs` from now, unless the last flush ends first. */
  private armDeadline(timeoutMs: number): void {
    if (this.flushedLast.signal.aborted) return;
    if (timeoutMs === 0) return void this.shutdown.abort(new CloseTimeoutError(timeoutMs));
    this.sleep(timeoutMs, this.flushedLast.signal).then(
      () => this.shutdown.abort(new CloseTimeoutError(timeoutMs)),
      // Disarmed: the last flush ended first.
      () => undefined,
    );
  }

  private async flushNow(last: boolean): Promise<FlushReport> {
    this.disarmInterval();
    this.seal();
    // What keeps events after this flush is this flush's failure, not one an earlier flush recovered from.
    this.lastFailure = undefined;
    let requests = 0;
    let delivered = 0;
    let refused = 0;
    // Past close()'s deadline nothing more is sent (nor reported again): what is left is handed back.
    while (this.unanswered.length > 0 && !this.shutdown.signal.aborted) {
      const call = this.unanswered.slice(0, nextCallLength(this.unanswered));
      const answerLost = call.some((event) => this.mayHaveCounted.has(event.eventId));
      const outcome = await this.transport.send(call.map(wireEvent), { answerLost, signal: this.shutdown.signal });
      requests += outcome.requests;
      if (outcome.kind === 'failed') {
        if (outcome.mayHaveCounted) call.forEach((event) => this.mayHaveCounted.add(event.eventId));
        // The API is unreachable or overloaded: the later calls of this flush would fail alike; all of them wait.
        this.lastFailure = new UsageCallFailedError(
          call,
          outcome.attempts,
          outcome.status,
          this.pendingAppEvents,
          outcome.cause,
          last,
        );
        this.notify(this.onError, this.lastFailure);
        break;
      }
      this.unanswered.splice(0, call.length);
      call.forEach((event) => this.mayHaveCounted.delete(event.eventId));
      if (outcome.kind === 'refused') {
        refused += appEventCount(call);
        this.notify(this.onError, new UsageCallRefusedError(outcome.status, outcome.message, call));
        continue;
      }
      call.forEach((event, index) => {
        const result = outcome.results[index]!;
        if (result.status === 'accepted' || result.status === 'duplicate') {
          delivered += event.appEvents.length;
          return;
        }
        // A sum of usage from both sides of the subscription's end: what came before it is sent again on its own.
        const split =
          result.status === 'rejected' && typeof result.billableUntil === 'string'
            ? splitAtEnd(event, new Date(result.billableUntil))
            : undefined;
        if (split !== undefined) this.unanswered.push(split.billable);
        const refusedEvent = split?.refused ?? event;
        refused += refusedEvent.appEvents.length;
        this.notify(this.onRefused, { ...result, event: refusedEvent });
      });
    }
    this.armInterval();
    const report = { requests, delivered, refused, pending: this.pendingAppEvents };
    if (this.closed) {
      this.sinceClose = {
        requests: this.sinceClose.requests + requests,
        delivered: this.sinceClose.delivered + delivered,
        refused: this.sinceClose.refused + refused,
        pending: report.pending,
      };
    }
    this.notify(this.onFlush, report);
    return report;
  }

  /** Turns the buffer into aggregated events with their ids, queued behind any still unanswered. */
  private seal(): void {
    if (this.aggregator.size === 0) return;
    const seal = ++this.seals;
    for (const event of this.aggregator.seal((index) => `${this.instanceId}-${seal}-${index}`)) {
      this.unanswered.push(event);
    }
  }

  /** Starts the wait for the next flush, unless one is armed, nothing waits, or the client is closing. */
  private armInterval(): void {
    if (this.interval !== undefined || this.closed) return;
    if (this.aggregator.size === 0 && this.unanswered.length === 0) return;
    const interval = new AbortController();
    this.interval = interval;
    this.sleep(this.flushIntervalMs, interval.signal).then(
      () => {
        if (this.interval !== interval) return;
        this.interval = undefined;
        void this.flush();
      },
      // Aborted: a flush started sooner and arms the next wait itself.
      () => undefined,
    );
  }

  private disarmInterval(): void {
    this.interval?.abort();
    this.interval = undefined;
  }
}

/** A callback that throws must not stop the flush, nor lose the events after it. */
function complain(error: unknown): void {
  console.error('usage client: a callback threw; the flush goes on', error);
}

function logRefusal(refusal: UsageRefusal): void {
  const { event } = refusal;
  const reason = refusal.status === 'rejected' ? `rejected (${refusal.reason})` : 'conflict';
  console.warn(
    `usage client: ${reason}: ${event.quantity} ${event.dimension} of ${event.subscriberId} in the hour ` +
      `${event.hour} (${counted(event.appEvents.length, 'app event')}): ${refusal.message}`,
  );
}

/** Every option the constructor takes: a misspelt one is refused, not left to its default without a word. */
const OPTION_NAMES: readonly (keyof UsageClientOptions)[] = [
  'usageUrl',
  'region',
  'credentials',
  'flushIntervalMs',
  'retry',
  'onRefused',
  'onError',
  'onFlush',
  'clock',
  'sleep',
];
const RETRY_OPTION_NAMES: readonly (keyof RetryOptions)[] = [
  'maxAttempts',
  'baseDelayMs',
  'maxDelayMs',
  'requestTimeoutMs',
];

/** Refuses a name `options` holds that `known` does not: `prefix` says where it was (`retry.`). */
function checkedNames(prefix: string, options: object, known: readonly string[]): void {
  if (options === null || typeof options !== 'object') {
    throw new UsageClientConfigError(`${prefix === '' ? 'the options' : prefix.slice(0, -1)} must be an object`);
  }
  const unknown = Object.keys(options).find((name) => !known.includes(name));
  if (unknown !== undefined) {
    throw new UsageClientConfigError(`${prefix}${unknown} is not an option; the options are ${known.join(', ')}`);
  }
}

/** A callback option: a function, or left out. */
function checkedFunction<T>(name: string, value: T | undefined): T | undefined {
  if (value === undefined || typeof value === 'function') return value;
  throw new UsageClientConfigError(`${name} must be a function, not ${asGiven(value)}`);
}

/** An object option whose `methods` must be functions (`clock.now`), or left out. */
function checkedFunctions<T extends object>(name: string, value: T | undefined, methods: readonly (keyof T)[]) {
  if (value === undefined) return value;
  for (const method of methods) {
    if (value === null || typeof value[method] !== 'function') {
      throw new UsageClientConfigError(`${name} must be an object with a ${String(method)}() method`);
    }
  }
  return value;
}

/** The retry options over the defaults (an option given as `undefined` keeps its default), each checked. */
function checkedRetry(options: Partial<RetryOptions> | undefined): RetryOptions {
  if (options !== undefined) checkedNames('retry.', options, RETRY_OPTION_NAMES);
  const given = Object.fromEntries(Object.entries(options ?? {}).filter(([, value]) => value !== undefined));
  const retry: RetryOptions = { ...DEFAULT_RETRY, ...given };
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) {
    throw new UsageClientConfigError('retry.maxAttempts must be a whole number of 1 or more');
  }
  checkedWait('retry.baseDelayMs', retry.baseDelayMs);
  checkedWait('retry.maxDelayMs', retry.maxDelayMs);
  if (checkedWait('retry.requestTimeoutMs', retry.requestTimeoutMs) === 0) {
    throw new UsageClientConfigError('retry.requestTimeoutMs must be more than 0');
  }
  return retry;
}

/** A wait in milliseconds a timer can keep: a number from 0 to 2^31 - 1 (Node.js runs a longer one at once). */
function checkedWait(name: string, ms: number): number {
  if (typeof ms === 'number' && ms >= 0 && ms <= LONGEST_WAIT_MS) return ms;
  throw new UsageClientConfigError(
    `${name} must be a number of milliseconds from 0 to ${LONGEST_WAIT_MS}, not ${asGiven(ms)}`,
  );
}

function checkedUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not passed on as the cause: the parser's error holds its input whole.
    throw new UsageClientConfigError(`usageUrl is not a URL: ${shownUrl(text)}`);
  }
  // fetch() refuses such a URL at every call; and the password would be in every message that names the URL.
  if (url.username !== '' || url.password !== '') {
    throw new UsageClientConfigError(
      'usageUrl must not hold a user name or password: the client signs its calls with the AWS credentials',
    );
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) return url;
  if (url.protocol !== 'http:') {
    throw new UsageClientConfigError(`usageUrl must start with https:// (http:// to this machine): ${shownUrl(text)}`);
  }
  throw new UsageClientConfigError(
    `usageUrl must be https (http only to this machine, for the local stack): ${shownUrl(text)}`,
  );
}

/**
 * A usageUrl as a message may quote it: without what may be a user name and password (everything before its last `@`,
 * however the URL is spelt).
 */
function shownUrl(text: string): string {
  const quoted = String(text);
  const at = quoted.lastIndexOf('@');
  return at < 0 ? quoted : `…${quoted.slice(at)}`;
}

function regionOf(url: URL, region: string | undefined): string {
  const chosen = region ?? EXECUTE_API_HOST.exec(url.hostname)?.[1];
  if (chosen === undefined) {
    throw new UsageClientConfigError(`region is needed: ${url.hostname} is not an execute-api host that names one`);
  }
  return chosen;
}
