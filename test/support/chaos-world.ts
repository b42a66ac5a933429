/**
 * Plays a chaos schedule (`chaos-schedule.ts`) against DynamoDB Local and the Marketplace simulator with the real
 * recorder and metering run, then drains (faults cleared, the clock past the grace, runs until nothing due is left) and
 * checks the books unit for unit:
 * - every bucket holds exactly the units the recorder answered `accepted` for it (by the hour it named), no more;
 * - every unit is in exactly one place: billed at the simulator (with the bucket's quantity, timestamp and record id),
 *   a bucket settled `rejected` with a reason, a bucket settled `expired`, or a bucket still pending;
 * - Marketplace never answered `DuplicateRecord`, and billed nothing that no bucket accounts for.
 *
 * A process dying is simulated in-process: a kill switch on the run's (or the recorder's) SDK clients lets the N-th
 * AWS call go out, or not, and from then on every call fails and every answer is lost, which is what a Lambda killed
 * mid-run looks like to the data. Backoff and rate-limit pauses are instant.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MarketplaceMeteringServiceException, type BatchMeterUsageRequest } from '@aws-sdk/client-marketplace-metering';
import {
  DynamoDBDocumentClient,
  ScanCommand,
  type DynamoDBDocumentClient as DocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { LifecycleRepository } from '../../lambdas/core/lifecycle/lifecycle-repository.ts';
import { bucketItemOf, type BucketItem } from '../../lambdas/core/metering/bucket-item.ts';
import { meterUsage, type MeteringLogger, type MeteringRunSummary } from '../../lambdas/core/metering/metering-run.ts';
import { hourOf } from '../../lambdas/core/metering/usage-bucket.ts';
import { recordUsage, type UsageRecorderDependencies } from '../../lambdas/core/metering/usage-recorder.ts';
import type { UsageEventResult } from '../../lambdas/core/metering/usage-event.ts';
import type { SubscriberIdentity } from '../../lambdas/core/subscriber.ts';
import type { LicenseView, SimulatorControl } from '../../local/simulator/control-client.ts';
import {
  HOUR_MS,
  LEGACY_DIMENSIONS,
  LICENSE_DIMENSIONS,
  type ChaosEvent,
  type ChaosSchedule,
  type FlakyTable,
  type KillPlan,
} from './chaos-schedule.ts';
import { SeededRandom } from './seeded-random.ts';
import type { DynamoDbForTests } from './dynamodb.ts';
import { subscribeBuyer } from './metering-fixtures.ts';
import { freshTables, type MeteringTables } from './metering-run.ts';
import { meteredProduct, meteringClient } from './simulator.ts';

const MINUTE_MS = 60_000;
const FINAL_METERING_GRACE_SECONDS = 3600;
const EVENT_ID_RETENTION_DAYS = 35;
/** A well-formed id that no subscriber has. */
const UNKNOWN_SUBSCRIBER = 'license:arn:aws:license-manager::222233334444:license:l-00000000000000000000000000000000';

/** The process died: nothing in the code under test should catch this for good. */
export class Crash extends Error {
  override readonly name = 'Crash';

  /** Whether the call it interrupted had gone out (and may have been processed). */
  constructor(readonly sent: boolean) {
    super(sent ? 'process killed after the call went out' : 'process killed');
  }
}

/** A DynamoDB call that failed in transit: the run must treat it as it treats any failed write or read. */
export class FlakyTableError extends Error {
  override readonly name = 'FlakyTableError';

  constructor(readonly applied: boolean) {
    super(applied ? 'the answer was lost after DynamoDB applied the call' : 'the call never reached DynamoDB');
  }
}

/** Fails DynamoDB calls now and then, as `FlakyTable` says. */
export class TableFlakiness {
  failures = 0;
  private readonly random: SeededRandom;

  constructor(private readonly plan: FlakyTable) {
    this.random = new SeededRandom(plan.seed);
  }

  async around<T>(call: () => Promise<T>): Promise<T> {
    if (!this.random.chance(this.plan.probability)) return call();
    this.failures++;
    const after = this.plan.when === 'either' ? this.random.chance(0.5) : this.plan.when === 'after';
    if (!after) throw new FlakyTableError(false);
    try {
      await call();
    } catch {
      // Lost with the rest of the answer.
    }
    throw new FlakyTableError(true);
  }
}

/**
 * Counts a process's AWS calls and kills it at the planned one: `before` it goes out, or `after` the service processed
 * it. From then on nothing goes out and no answer is read.
 */
export class KillSwitch {
  dead = false;
  private operations = 0;

  constructor(private readonly plan: (Omit<KillPlan, 'at'> & { readonly afterOps: number }) | undefined) {}

  async around<T>(isMetering: boolean, call: () => Promise<T>): Promise<T> {
    if (this.dead) throw new Crash(false);
    const plan = this.plan;
    if (plan !== undefined && (plan.target === 'any' || isMetering) && ++this.operations === plan.afterOps) {
      if (plan.when === 'before') {
        this.dead = true;
        throw new Crash(false);
      }
      try {
        await call();
      } catch {
        // The answer is lost either way.
      }
      this.dead = true;
      throw new Crash(true);
    }
    let result: T;
    try {
      result = await call();
    } catch (error) {
      if (this.dead) throw new Crash(true);
      throw error;
    }
    // The answer arrives at a dead process.
    if (this.dead) throw new Crash(true);
    return result;
  }

  readonly sleep = (): Promise<void> => (this.dead ? Promise.reject(new Crash(false)) : Promise.resolve());
}

export interface ChaosEnvironment {
  readonly dynamoDb: DynamoDbForTests;
  readonly simulatorUrl: string;
  readonly control: SimulatorControl;
}

/** What happened, for the report: not checked, only counted. */
export interface ChaosStats {
  steps: Record<string, number>;
  runs: number;
  killsFired: number;
  eventsSent: number;
  eventsAccepted: number;
  eventsCarried: number;
  eventsDuplicate: number;
  lostAnswersResolved: number;
  recorderRejections: Record<string, number>;
  bucketStates: Record<string, number>;
  settledReasons: Record<string, number>;
  unitsAccepted: number;
  unitsBilled: number;
  unitsRejected: number;
  unitsExpired: number;
  unitsPending: number;
  /** Buckets settled `expired` that Marketplace had billed from a send whose answer was lost (logged by the run). */
  expiredAfterUnconfirmedSend: number;
  /**
   * Buckets settled `rejected` (`CustomerNotSubscribed`, `InvalidLicenseException`) that Marketplace had billed from a
   * send whose answer was lost: the resend came after the subscription's final-metering hour. The run cannot learn
   * the first answer any more and logs it for CloudTrail to settle; the units are billed once, and the books count
   * them as billed.
   */
  rejectedAfterUnconfirmedSend: number;
  /** Of `expiredAfterUnconfirmedSend`, those the run never logged (it died between the write and the log line). */
  expiredUnconfirmedNotLogged: number;
  faults: { throttled: number; internalErrors: number; dropped: number; delayed: number; unprocessedRecords: number };
  drainRuns: number;
  /** DynamoDB calls made to fail by `FlakyTable`. */
  tableFailures: number;
  /** Runs that gave up because a DynamoDB call failed. */
  runsFailedOnTable: number;
  loggedErrors: Record<string, number>;
}

export interface ChaosReport {
  readonly violations: string[];
  readonly stats: ChaosStats;
}

/** One key per customer, dimension and hour, for buckets, sent records and billed records alike. */
function recordId(subscriberId: string, dimension: string, hour: string | Date): string {
  return JSON.stringify([subscriberId, dimension, new Date(hour).toISOString()]);
}

const bump = (counts: Record<string, number>, key: string, by = 1) => {
  counts[key] = (counts[key] ?? 0) + by;
};

export interface ChaosOptions {
  /** Called after the drain and before the books are checked: lets a test break the books to see the check notice. */
  readonly tamper?: (world: ChaosWorld) => Promise<void>;
}

/** What a tamper gets to work with. */
export interface ChaosWorld {
  readonly client: DocumentClient;
  readonly usageTable: string;
  readonly simulatorUrl: string;
  readonly now: Date;
  readonly subscribers: readonly { readonly id: string; readonly license: LicenseView }[];
}

/** Answers that a resend after the subscription's final-metering hour gets for a record billed before. */
const REFUSED_AFTER_END = new Set(['CustomerNotSubscribed', 'InvalidLicenseException']);

export async function playSchedule(
  schedule: ChaosSchedule,
  environment: ChaosEnvironment,
  options: ChaosOptions = {},
): Promise<ChaosReport> {
  const { control } = environment;
  const violations: string[] = [];
  const stats: ChaosStats = {
    steps: {},
    runs: 0,
    killsFired: 0,
    eventsSent: 0,
    eventsAccepted: 0,
    eventsCarried: 0,
    eventsDuplicate: 0,
    lostAnswersResolved: 0,
    recorderRejections: {},
    bucketStates: {},
    settledReasons: {},
    unitsAccepted: 0,
    unitsBilled: 0,
    unitsRejected: 0,
    unitsExpired: 0,
    unitsPending: 0,
    expiredAfterUnconfirmedSend: 0,
    rejectedAfterUnconfirmedSend: 0,
    expiredUnconfirmedNotLogged: 0,
    faults: { throttled: 0, internalErrors: 0, dropped: 0, delayed: 0, unprocessedRecords: 0 },
    drainRuns: 0,
    tableFailures: 0,
    runsFailedOnTable: 0,
    loggedErrors: {},
  };
  const { settings } = schedule;
  let now = Date.parse(schedule.start);

  // --- The world: tables of its own, a reset simulator on the schedule's clock, two products, the subscribers.
  await control.reset();
  await control.setClock(new Date(now), false);
  const tables = await freshTables(environment.dynamoDb);
  const documents = documentsWith(tables, undefined);
  const licenseProduct = await control.createProduct(
    meteredProduct({
      identityModel: 'license',
      dimensions: LICENSE_DIMENSIONS.map((name) => ({ name, kind: 'metered' as const })),
    }),
  );
  const legacyProduct = await control.createProduct(
    meteredProduct({
      identityModel: 'legacy',
      dimensions: LEGACY_DIMENSIONS.map((name) => ({ name, kind: 'metered' as const })),
    }),
  );
  const products = [
    { code: licenseProduct.code, identityModel: 'license' as const, meteredDimensions: [...LICENSE_DIMENSIONS] },
    { code: legacyProduct.code, identityModel: 'legacy' as const, meteredDimensions: [...LEGACY_DIMENSIONS] },
  ];
  const subscribers: { id: string; license: LicenseView; identity: SubscriberIdentity }[] = [];
  for (const spec of schedule.subscribers) {
    const code = spec.model === 'license' ? licenseProduct.code : legacyProduct.code;
    const buyer = await subscribeBuyer(
      { control, client: documents.client, subscribersTable: tables.subscribers },
      code,
      new Date(now),
    );
    const { license } = buyer;
    const identity: SubscriberIdentity =
      license.identityModel === 'license'
        ? {
            model: 'license',
            productCode: code,
            licenseArn: license.licenseArn!,
            customerAWSAccountId: license.customerAWSAccountId,
          }
        : { model: 'legacy', productCode: code, customerIdentifier: license.customerIdentifier! };
    subscribers.push({ id: buyer.subscriberId, license, identity });
  }
  const subscriberIdOf = (index: number) => (index === -1 ? UNKNOWN_SUBSCRIBER : subscribers[index]!.id);

  // --- The books kept from the recorder's answers.
  /** Units the recorder answered `accepted` for, by the bucket (customer, dimension, hour) it said it put them in. */
  const expected = new Map<string, number>();
  /** Of those, the tagged units, by bucket and tag set (`tagSetOf`). */
  const expectedTagged = new Map<string, Map<string, number>>();
  /** `subscriberId#eventId` of every event counted. */
  const counted = new Set<string>();
  /**
   * Event ids a lost call counted, with every event of that call that carried the id (a call may carry an id twice,
   * with other contents): which one was counted, and the hour it went into, are read from the event key at the end.
   */
  const countedByLostCalls: {
    subscriberId: string;
    eventId: string;
    candidates: { dimension: string; quantity: number; tags: Readonly<Record<string, string>> | undefined }[];
  }[] = [];
  /** Records a run sent without learning the answer (a dropped connection, a killed process). */
  const unconfirmed = new Set<string>();
  const loggedErrors: string[] = [];
  /** Buckets the run said it expired after a send it had no answer to (`pk`, `sk`). */
  const loggedUnconfirmedExpiries = new Set<string>();
  const loggedUnconfirmedRejections = new Set<string>();

  const accept = (
    subscriberId: string,
    dimension: string,
    hour: string,
    quantity: number,
    tags: Readonly<Record<string, string>> | undefined,
  ) => {
    const id = recordId(subscriberId, dimension, hour);
    expected.set(id, (expected.get(id) ?? 0) + quantity);
    stats.unitsAccepted += quantity;
    if (tags !== undefined) {
      const tagged = expectedTagged.get(id) ?? new Map<string, number>();
      const tagSet = tagSetOf(Object.entries(tags).map(([key, value]) => ({ key, value })));
      tagged.set(tagSet, (tagged.get(tagSet) ?? 0) + quantity);
      expectedTagged.set(id, tagged);
    }
  };

  const recorderDependencies = (client: DocumentClient): UsageRecorderDependencies => ({
    client,
    usageTable: tables.usage,
    subscribersTable: tables.subscribers,
    products,
    acceptanceWindowHours: settings.acceptanceWindowHours,
    eventIdRetentionDays: EVENT_ID_RETENTION_DAYS,
    finalMeteringGraceSeconds: FINAL_METERING_GRACE_SECONDS,
  });

  /**
   * Sends one call to the recorder and books its answers. With `lostAnswer`, the call's process dies at that point and
   * the caller sends the same call again (as it would after a timeout): events then answered `duplicate` that were
   * never seen counted were counted by the lost call.
   */
  async function record(events: readonly ChaosEvent[], lostAnswer?: KillPlan): Promise<void> {
    const at = new Date(now);
    const inputs = events.map((event) => ({
      subscriberId: subscriberIdOf(event.subscriber),
      dimension: event.dimension,
      quantity: event.quantity,
      timestamp: event.timestamp,
      ...(event.eventId === undefined ? {} : { eventId: event.eventId }),
      ...(event.tags === undefined ? {} : { tags: event.tags }),
    }));
    stats.eventsSent += inputs.length;
    let lost = false;
    let results: UsageEventResult[] | undefined;
    if (lostAnswer !== undefined) {
      // A recorder call makes two AWS calls: it reads subscribers and event keys, then writes one transaction.
      const killSwitch = new KillSwitch({ ...lostAnswer, afterOps: 1 + Math.floor(lostAnswer.at * 2) });
      const dying = documentsWith(tables, killSwitch);
      try {
        // Not killed (the call made fewer AWS calls than planned): its answer came back, and counts.
        results = await recordUsage(recorderDependencies(dying.client), inputs, at);
      } catch (error) {
        if (error instanceof Crash) {
          lost = true;
          stats.killsFired++;
        } else {
          violations.push(`recordUsage threw at ${at.toISOString()}: ${String(error)}`);
          return;
        }
      } finally {
        dying.destroy();
      }
    }
    if (results === undefined) {
      try {
        results = await recordUsage(recorderDependencies(documents.client), inputs, at);
      } catch (error) {
        violations.push(`recordUsage threw at ${at.toISOString()}: ${String(error)}`);
        return;
      }
    }
    results.forEach((result, index) => {
      const input = inputs[index]!;
      const key = `${input.subscriberId}#${input.eventId ?? ''}`;
      const happened = Date.parse(input.timestamp);
      switch (result.status) {
        case 'accepted': {
          stats.eventsAccepted++;
          if (input.eventId !== undefined) {
            if (counted.has(key)) violations.push(`event ${key} accepted twice`);
            counted.add(key);
          }
          const ownHour = hourOf(new Date(happened)).toISOString();
          if (result.carriedFrom !== undefined) {
            stats.eventsCarried++;
            if (result.carriedFrom !== ownHour || !(Date.parse(result.hour) > happened)) {
              violations.push(`event ${JSON.stringify(input)} carried from ${result.carriedFrom} to ${result.hour}`);
            }
          } else if (result.hour !== ownHour) {
            violations.push(`event ${JSON.stringify(input)} accepted into ${result.hour}, not its own hour`);
          }
          if (happened - at.getTime() > 5 * MINUTE_MS) {
            violations.push(`event ${JSON.stringify(input)} more than 5 minutes ahead of ${at.toISOString()} accepted`);
          }
          if (Date.parse(result.hour) + settings.acceptanceWindowHours * HOUR_MS <= at.getTime()) {
            violations.push(`event ${JSON.stringify(input)} accepted into ${result.hour}, already out of the window`);
          }
          accept(input.subscriberId, input.dimension, result.hour, input.quantity, input.tags);
          return;
        }
        case 'duplicate':
          stats.eventsDuplicate++;
          if (input.eventId === undefined) {
            violations.push(`event without id answered duplicate: ${JSON.stringify(input)}`);
          } else if (!counted.has(key)) {
            if (lost) {
              counted.add(key);
              countedByLostCalls.push({
                subscriberId: input.subscriberId,
                eventId: input.eventId,
                candidates: inputs
                  .filter((other) => other.subscriberId === input.subscriberId && other.eventId === input.eventId)
                  .map(({ dimension, quantity, tags }) => ({ dimension, quantity, tags })),
              });
            } else {
              violations.push(`event ${key} answered duplicate but never counted`);
            }
          }
          return;
        case 'rejected':
          bump(stats.recorderRejections, result.reason);
          return;
      }
    });
  }

  const logger: MeteringLogger = {
    info: () => {},
    warn: () => {},
    error: (message, details) => {
      loggedErrors.push(message);
      bump(stats.loggedErrors, message);
      const key = details.key as { pk?: unknown; sk?: unknown } | undefined;
      if (message === 'Usage bucket expired after an unconfirmed send' && key !== undefined) {
        loggedUnconfirmedExpiries.add(JSON.stringify([key.pk, key.sk]));
      }
      if (message === 'Usage bucket rejected after an unconfirmed send' && key !== undefined) {
        loggedUnconfirmedRejections.add(JSON.stringify([key.pk, key.sk]));
      }
    },
  };

  /** One metering run on clients of its own (its own process); answers its summary, or `undefined` if it was killed. */
  async function meter(
    options: { now: Date; subscriberId?: string },
    kill?: KillPlan,
    flakyTable?: FlakyTable,
  ): Promise<MeteringRunSummary | undefined> {
    stats.runs++;
    const flakiness = flakyTable === undefined ? undefined : new TableFlakiness(flakyTable);
    const killSwitch = new KillSwitch(
      kill === undefined
        ? undefined
        : { ...kill, afterOps: 1 + Math.floor(kill.at * (await expectedCalls(options, kill))) },
    );
    const process = documentsWith(tables, killSwitch, flakiness);
    const metering = meteringClient(environment.simulatorUrl);
    /** A run that dies may have had its answers and not recorded them: to the books, those sends went unconfirmed. */
    const sentByThisRun = new Set<string>();
    metering.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'BatchMeterUsageCommand') return killSwitch.around(true, () => next(args));
        const request = args.input as BatchMeterUsageRequest;
        const keys = (request.UsageRecords ?? []).map((record) =>
          recordId(
            request.ProductCode === undefined
              ? `license:${record.LicenseArn ?? ''}`
              : `legacy:${request.ProductCode}:${record.CustomerIdentifier ?? ''}`,
            record.Dimension ?? '',
            record.Timestamp ?? new Date(0),
          ),
        );
        for (const key of keys) sentByThisRun.add(key);
        try {
          return await killSwitch.around(true, () => next(args));
        } catch (error) {
          const answered = error instanceof MarketplaceMeteringServiceException;
          const neverSent = error instanceof Crash && !error.sent;
          if (!answered && !neverSent) for (const key of keys) unconfirmed.add(key);
          throw error;
        }
      },
      { step: 'initialize', name: 'chaosKillSwitch' },
    );
    try {
      const summary = await meterUsage(
        {
          client: process.client,
          usageTable: tables.usage,
          subscribersTable: tables.subscribers,
          metering,
          closedHourGraceMinutes: settings.closedHourGraceMinutes,
          acceptanceWindowHours: settings.acceptanceWindowHours,
          callsPerSecond: settings.callsPerSecond,
          zeroUsageRecords: settings.zeroUsageRecords,
          products,
          logger,
          sleep: killSwitch.sleep,
          retryPolicy: { maxAttempts: settings.maxAttempts, baseDelayMs: 1, maxDelayMs: 1 },
        },
        options,
      );
      if (killSwitch.dead) stats.killsFired++;
      return killSwitch.dead ? undefined : summary;
    } catch (error) {
      if (killSwitch.dead) {
        stats.killsFired++;
        return undefined;
      }
      // A run may give up when its table fails under it (it cannot list what is due, say): the next run does the work.
      if (error instanceof FlakyTableError) {
        stats.runsFailedOnTable++;
        return undefined;
      }
      violations.push(`a run at ${options.now.toISOString()} that nobody killed threw: ${String(error)}`);
      return undefined;
    } finally {
      // A run that dies, or whose table fails under it, may have had answers it could not record: to the books, those
      // sends went unconfirmed.
      if (killSwitch.dead || (flakiness?.failures ?? 0) > 0) for (const key of sentByThisRun) unconfirmed.add(key);
      stats.tableFailures += flakiness?.failures ?? 0;
      process.destroy();
      metering.destroy();
    }
  }

  /** About how many AWS calls a run will make (all of them, or its Marketplace calls), to kill it somewhere inside. */
  async function expectedCalls(options: { now: Date; subscriberId?: string }, kill: KillPlan): Promise<number> {
    const dueBefore =
      options.subscriberId === undefined
        ? hourOf(new Date(options.now.getTime() - settings.closedHourGraceMinutes * MINUTE_MS)).getTime()
        : hourOf(options.now).getTime() + HOUR_MS;
    const due = (await scan(documents.client, tables.usage)).filter(
      (item) =>
        isBucketItem(item) &&
        !isSettled(item) &&
        Date.parse(String(item.hour)) < dueBefore &&
        (options.subscriberId === undefined || item.subscriberId === options.subscriberId),
    ).length;
    const zeroUsage = settings.zeroUsageRecords && options.subscriberId === undefined ? subscribers.length : 0;
    const calls = Math.max(1, Math.ceil((due + zeroUsage) / 25) + 1);
    if (kill.target === 'metering') return calls;
    // Pending-index queries, live-index queries and zero-usage writes, a freeze and a settle per bucket, an identity
    // read per subscriber, the calls.
    return 8 + (zeroUsage > 0 ? 8 + zeroUsage : 0) + 2 * (due + zeroUsage) + subscribers.length + calls;
  }

  const setNow = async (instant: number) => {
    now = instant;
    await control.setClock(new Date(now), false);
  };

  // --- The schedule.
  for (const step of schedule.steps) {
    bump(stats.steps, step.kind);
    switch (step.kind) {
      case 'record':
        await record(step.events, step.answerLost);
        break;
      case 'faults':
        await control.setFaults(step.plan);
        break;
      case 'clear-faults':
        await control.clearFaults();
        break;
      case 'advance':
        await setNow(now + step.minutes * MINUTE_MS);
        break;
      case 'run':
        await meter({ now: new Date(now) }, step.kill, step.flakyTable);
        break;
      case 'two-runs':
        await Promise.all([
          meter({ now: new Date(now) }, undefined, step.flakyTable),
          meter({ now: new Date(now + step.offsetSeconds * 1000) }, step.kill),
        ]);
        break;
      case 'run-while-recording':
        await Promise.all([meter({ now: new Date(now) }), record(step.events)]);
        break;
      case 'end-license': {
        const subscriber = subscribers[step.subscriber]!;
        await control.end(subscriber.license.id);
        await new LifecycleRepository(
          documents.client,
          tables.subscribers,
          FINAL_METERING_GRACE_SECONDS,
        ).applyToSubscriber(
          { subscriber: subscriber.identity, facts: ['endRequestedAt'], at: new Date(now) },
          new Date(now),
        );
        break;
      }
      case 'final-flush': {
        const flush = meter({ now: new Date(now), subscriberId: subscribers[step.subscriber]!.id }, step.kill);
        const alongside =
          step.alongside === undefined
            ? undefined
            : 'run' in step.alongside
              ? meter({ now: new Date(now) })
              : record(step.alongside.events);
        await Promise.all([flush, alongside]);
        break;
      }
    }
  }

  // --- The drain: no more faults; the clock past each hour's grace; runs until nothing due is left.
  const faultStats = (await control.stats()).operations.BatchMeterUsage;
  stats.faults = {
    throttled: faultStats.throttled,
    internalErrors: faultStats.internalErrors,
    dropped: faultStats.dropped,
    delayed: faultStats.delayed,
    unprocessedRecords: faultStats.unprocessedRecords,
  };
  await control.clearFaults();
  const graceMs = (settings.closedHourGraceMinutes + 1) * MINUTE_MS;
  for (let round = 0; round < 4; round++) {
    await setNow(Math.floor(now / HOUR_MS) * HOUR_MS + HOUR_MS + graceMs);
    let summary: MeteringRunSummary | undefined;
    for (let attempt = 0; attempt < 3 && (summary === undefined || summary.pending > 0); attempt++) {
      stats.drainRuns++;
      summary = await meter({ now: new Date(now) });
    }
    if (summary !== undefined && summary.pending > 0) {
      violations.push(`three fault-free runs at ${new Date(now).toISOString()} still left ${summary.pending} pending`);
    }
    const items = await scan(documents.client, tables.usage);
    if (items.every((item) => !isBucketItem(item) || isSettled(item))) break;
  }

  if (options.tamper !== undefined) {
    await options.tamper({
      client: documents.client,
      usageTable: tables.usage,
      simulatorUrl: environment.simulatorUrl,
      now: new Date(now),
      subscribers,
    });
  }

  // --- The books.
  const items = await scan(documents.client, tables.usage);
  const buckets: BucketItem[] = [];
  const eventKeys: Record<string, unknown>[] = [];
  for (const item of items) {
    if (String(item.pk).startsWith('EVENT#')) {
      eventKeys.push(item);
      continue;
    }
    const bucket = bucketItemOf(item);
    if (bucket === undefined) violations.push(`malformed item in the Usage table: ${JSON.stringify(item)}`);
    else buckets.push(bucket);
  }

  // Events counted by calls whose answer was lost: the hour they went into is on their event key.
  for (const lostEvent of countedByLostCalls) {
    const key = eventKeys.find(
      (item) => item.subscriberId === lostEvent.subscriberId && item.eventId === lostEvent.eventId,
    );
    if (key === undefined) {
      violations.push(`event ${lostEvent.eventId} answered duplicate after a lost call, but has no event key`);
      continue;
    }
    const sent = lostEvent.candidates.find(
      (candidate) => candidate.quantity === key.quantity && candidate.dimension === key.dimension,
    );
    if (sent === undefined) {
      violations.push(`event key ${JSON.stringify(key)} matches no event sent: ${JSON.stringify(lostEvent)}`);
      continue;
    }
    stats.lostAnswersResolved++;
    accept(lostEvent.subscriberId, sent.dimension, String(key.hour), sent.quantity, sent.tags);
  }
  // Every event key is an event counted, and the reverse.
  const keyed = new Set(eventKeys.map((item) => `${String(item.subscriberId)}#${String(item.eventId)}`));
  for (const key of keyed) if (!counted.has(key)) violations.push(`event key ${key} for an event never counted`);
  for (const key of counted) if (!keyed.has(key)) violations.push(`event ${key} counted but has no event key`);

  const billed = await control.billed();
  const billedById = new Map<string, (typeof billed.records)[number]>();
  for (const record of billed.records) {
    const subscriberId =
      record.productCode === legacyProduct.code
        ? `legacy:${record.productCode}:${record.customerIdentifier ?? ''}`
        : `license:${record.licenseArn ?? ''}`;
    const id = recordId(subscriberId, record.dimension, record.hour);
    if (billedById.has(id)) violations.push(`Marketplace billed ${id} twice`);
    billedById.set(id, record);
    if (record.timestamp !== record.hour) {
      violations.push(`billed record ${id} has timestamp ${record.timestamp}, not its hour's start`);
    }
    stats.unitsBilled += record.quantity;
  }

  const seen = new Set<string>();
  for (const bucket of buckets) {
    const id = recordId(bucket.subscriberId, bucket.dimension, bucket.hour);
    seen.add(id);
    bump(stats.bucketStates, bucket.state);
    const accepted = expected.get(id) ?? 0;
    if (bucket.quantity !== accepted) {
      violations.push(
        `bucket ${id} (${bucket.state}) holds ${bucket.quantity}; the recorder accepted ${accepted} for it`,
      );
    }
    const billedRecord = billedById.get(id);
    if (billedRecord !== undefined && billedRecord.quantity !== bucket.quantity) {
      violations.push(
        `bucket ${id} holds ${bucket.quantity}; Marketplace billed ${billedRecord.quantity} for its hour`,
      );
    }
    if (billedRecord !== undefined) {
      // Each tag set's units as accepted, and the untagged rest.
      const tagged = expectedTagged.get(id) ?? new Map<string, number>();
      const untagged = bucket.quantity - [...tagged.values()].reduce((sum, units) => sum + units, 0);
      const want = new Map<string, number>([...tagged, ['[]', untagged] as const].filter(([, units]) => units !== 0));
      const got = new Map<string, number>(
        billedRecord.allocations
          .filter((allocation) => allocation.quantity !== 0)
          .map((allocation) => [tagSetOf(allocation.tags), allocation.quantity]),
      );
      const text = (allocations: Map<string, number>) => JSON.stringify([...allocations].sort());
      if (text(want) !== text(got)) {
        violations.push(
          `bucket ${id} was billed with allocations ${text(got)}; the accepted events make ${text(want)}`,
        );
      }
    }
    const item = items.find((candidate) => candidate.pk === bucket.key.pk && candidate.sk === bucket.key.sk)!;
    switch (bucket.state) {
      case 'billed':
        if (billedRecord === undefined) {
          violations.push(`bucket ${id} is settled billed, but Marketplace billed nothing for it`);
        } else if (item.meteringRecordId !== billedRecord.meteringRecordId) {
          violations.push(
            `bucket ${id} has record id ${String(item.meteringRecordId)}, Marketplace billed ${billedRecord.meteringRecordId}`,
          );
        }
        break;
      case 'rejected':
      case 'expired':
        bump(stats.settledReasons, `${bucket.state}:${bucket.reason ?? '(none)'}`);
        if (bucket.reason === undefined) violations.push(`bucket ${id} is ${bucket.state} without a reason`);
        if (bucket.reason === 'DuplicateRecord') violations.push(`bucket ${id} was rejected as DuplicateRecord`);
        if (billedRecord !== undefined) {
          if (bucket.state === 'expired' && unconfirmed.has(id)) {
            // Documented: the run cannot learn the answer of a send it lost once the hour is out of the window, and
            // logs it for CloudTrail to settle. The units are billed (once), which is what the books count.
            stats.expiredAfterUnconfirmedSend++;
            // Said so in the log, or at least on the item: frozen by a run before the one that expired it. (A run that
            // dies between the expiring write and its log line leaves only the item to tell.)
            const logged = loggedUnconfirmedExpiries.has(JSON.stringify([bucket.key.pk, bucket.key.sk]));
            const frozenEarlier =
              bucket.frozenAt !== undefined && typeof item.settledAt === 'string' && bucket.frozenAt < item.settledAt;
            if (!logged) stats.expiredUnconfirmedNotLogged++;
            if (!logged && !frozenEarlier) {
              violations.push(
                `bucket ${id} expired after an unconfirmed send that Marketplace billed, and nobody said so`,
              );
            }
          } else if (bucket.state === 'rejected' && unconfirmed.has(id) && REFUSED_AFTER_END.has(bucket.reason ?? '')) {
            // As with an expiry: the resend came too late to hear the first answer, and the run must say so.
            stats.rejectedAfterUnconfirmedSend++;
            if (!loggedUnconfirmedRejections.has(JSON.stringify([bucket.key.pk, bucket.key.sk]))) {
              violations.push(
                `bucket ${id} was rejected (${bucket.reason ?? ''}) after an unconfirmed send that Marketplace billed, ` +
                  'and nobody said so',
              );
            }
          } else {
            violations.push(
              `bucket ${id} is settled ${bucket.state} (${bucket.reason ?? ''}) but Marketplace billed it` +
                (unconfirmed.has(id) ? ' (from a send whose answer was lost)' : ''),
            );
          }
        } else if (bucket.state === 'rejected') stats.unitsRejected += bucket.quantity;
        else stats.unitsExpired += bucket.quantity;
        break;
      case 'open':
      case 'frozen':
        if (billedRecord !== undefined) {
          violations.push(`bucket ${id} is still ${bucket.state}, but Marketplace billed it`);
        } else stats.unitsPending += bucket.quantity;
        break;
    }
  }
  for (const [id, quantity] of expected) {
    if (!seen.has(id) && quantity > 0)
      violations.push(`the recorder accepted ${quantity} for ${id}, which has no bucket`);
  }
  for (const id of billedById.keys()) {
    if (!seen.has(id)) violations.push(`Marketplace billed ${id}, which no bucket accounts for`);
  }
  const unsettled = buckets.filter((bucket) => bucket.state === 'open' || bucket.state === 'frozen');
  if (unsettled.length > 0) {
    violations.push(
      `still pending after the drain: ${unsettled.map((bucket) => `${bucket.subscriberId} ${bucket.dimension} ${bucket.hour.toISOString()} ${bucket.state}`).join('; ')}`,
    );
  }
  const accounted = stats.unitsBilled + stats.unitsRejected + stats.unitsExpired + stats.unitsPending;
  if (accounted !== stats.unitsAccepted) {
    violations.push(
      `accepted ${stats.unitsAccepted} units, but billed ${stats.unitsBilled} + rejected ${stats.unitsRejected} + ` +
        `expired ${stats.unitsExpired} + pending ${stats.unitsPending} = ${accounted}`,
    );
  }
  const duplicates = (await control.results({ status: 'DuplicateRecord' })).results;
  if (duplicates.length > 0) violations.push(`Marketplace answered DuplicateRecord: ${JSON.stringify(duplicates)}`);
  if (loggedErrors.includes('Marketplace answered DuplicateRecord')) {
    violations.push('the run logged a DuplicateRecord answer');
  }

  documents.destroy();
  return { violations, stats };
}

/** A document client on a client of its own, behind the kill switch when there is one. */
function documentsWith(
  tables: MeteringTables,
  killSwitch: KillSwitch | undefined,
  flakiness?: TableFlakiness,
): { client: DocumentClient; destroy: () => void } {
  const base = new DynamoDBClient({ endpoint: tables.endpoint });
  if (killSwitch !== undefined || flakiness !== undefined) {
    base.middlewareStack.add(
      (next) => (args) => {
        const call = () => next(args);
        const flaky = flakiness === undefined ? call : () => flakiness.around(call);
        return killSwitch === undefined ? flaky() : killSwitch.around(false, flaky);
      },
      { step: 'initialize', name: 'chaosKillSwitch' },
    );
  }
  const client = DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
  return { client, destroy: () => base.destroy() };
}

export async function scan(client: DocumentClient, table: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

/** A tag set in one spelling, whatever the order of its tags. */
function tagSetOf(tags: readonly { readonly key: string; readonly value: string }[]): string {
  return JSON.stringify(tags.map(({ key, value }) => [key, value]).sort());
}

const isBucketItem = (item: Record<string, unknown>) => String(item.pk).startsWith('USAGE#');
const isSettled = (item: Record<string, unknown>) => item.state !== 'open' && item.state !== 'frozen';
