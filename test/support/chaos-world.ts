/**
 * Plays a chaos schedule (`chaos-schedule.ts`) against DynamoDB Local and the Marketplace simulator with the real
 * recorder and metering runs, then drains (faults cleared; a final-metering run inside every final window still open;
 * the clock past each hour's grace; runs until nothing due is left) and checks the books unit for unit
 * (`chaos-books.ts`). Processes die in-process (`chaos-processes.ts`); backoff and rate-limit pauses are instant.
 */
import { MarketplaceMeteringServiceException, type BatchMeterUsageRequest } from '@aws-sdk/client-marketplace-metering';
import { ScanCommand, type DynamoDBDocumentClient as DocumentClient } from '@aws-sdk/lib-dynamodb';
import { LifecycleRepository } from '../../lambdas/core/lifecycle/lifecycle-repository.ts';
import type { MeteringScope } from '../../lambdas/core/metering/run/due-buckets.ts';
import type { MeteredProduct } from '../../lambdas/core/environment.ts';
import { itemsOfPages } from '../../lambdas/core/table-pages.ts';
import {
  meterUsage,
  type MeteringLogger,
  type MeteringRunSummary,
} from '../../lambdas/core/metering/run/metering-run.ts';
import { hourOf } from '../../lambdas/core/metering/bucket/usage-bucket.ts';
import {
  recordUsage,
  UsageOutcomeUnknownError,
  type UsageRecorderDependencies,
} from '../../lambdas/core/metering/recording/index.ts';
import type { SubscriberIdentity } from '../../lambdas/core/subscriber.ts';
import type { LicenseView, SimulatorControl } from '../../simulator/control-client.ts';
import {
  bump,
  checkBooks,
  emptyStats,
  recordId,
  RecorderBooks,
  type ChaosStats,
  type SentEvent,
} from './chaos-books.ts';
import { Crash, documentsWith, FlakyTableError, KillSwitch, TableFlakiness } from './chaos-processes.ts';
import {
  FINAL_SEND_AFTER_END_MS,
  HOUR_MS,
  LEGACY_DIMENSIONS,
  LICENSE_DIMENSIONS,
  type ChaosEvent,
  type ChaosSchedule,
  type ChaosStep,
  type FlakyTable,
  type KillPlan,
} from './chaos-schedule.ts';
import type { DynamoDbForTests } from './dynamodb.ts';
import { identityOf, subscribeBuyer } from './metering-fixtures.ts';
import { freshTables, type MeteringTables } from './metering-run.ts';
import { meteredProduct, meteringClient, minutesFrom } from './simulator.ts';

export type { ChaosStats } from './chaos-books.ts';

const MINUTE_MS = 60_000;
/** As deployed by default: final records are taken for an hour after a cancellation; the final hour goes 15 min early. */
const FINAL_METERING = { graceSeconds: 3600, finalHourMarginMinutes: 15 } as const;
const EVENT_ID_RETENTION_DAYS = 35;
/** A well-formed id that no subscriber has. */
const UNKNOWN_SUBSCRIBER = 'license:arn:aws:license-manager::222233334444:license:l-00000000000000000000000000000000';

export interface ChaosEnvironment {
  readonly dynamoDb: DynamoDbForTests;
  readonly simulatorUrl: string;
  readonly control: SimulatorControl;
}

export interface ChaosReport {
  readonly violations: string[];
  readonly stats: ChaosStats;
}

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

interface Subscriber {
  readonly id: string;
  readonly license: LicenseView;
  readonly identity: SubscriberIdentity;
}

export async function playSchedule(
  schedule: ChaosSchedule,
  environment: ChaosEnvironment,
  options: ChaosOptions = {},
): Promise<ChaosReport> {
  const play = await ChaosPlay.start(schedule, environment);
  try {
    for (const step of schedule.steps) await play.step(step);
    await play.drain();
    if (options.tamper !== undefined) await options.tamper(play.world());
    return await play.check();
  } finally {
    play.close();
  }
}

class ChaosPlay {
  readonly stats = emptyStats();
  readonly violations: string[] = [];
  private readonly books: RecorderBooks;
  private readonly documents: ReturnType<typeof documentsWith>;
  /** Records a run sent without learning the answer (a dropped connection, a killed process). */
  private readonly unconfirmed = new Set<string>();
  /** When each ended subscriber (by index) ended. */
  private readonly ends = new Map<number, number>();
  /** Subscribers whose final window had a run that nothing disturbed. */
  private readonly reachableInFinalWindow = new Set<string>();

  private constructor(
    private readonly schedule: ChaosSchedule,
    private readonly environment: ChaosEnvironment,
    private readonly tables: MeteringTables,
    private readonly products: readonly MeteredProduct[],
    private readonly subscribers: readonly Subscriber[],
    private now: number,
  ) {
    this.books = new RecorderBooks(this.stats, this.violations, schedule.settings.acceptanceWindowHours);
    this.documents = documentsWith(tables.endpoint);
  }

  /** Tables of its own, a reset simulator on the schedule's clock and reading, two products, the subscribers. */
  static async start(schedule: ChaosSchedule, environment: ChaosEnvironment): Promise<ChaosPlay> {
    const { control } = environment;
    const now = Date.parse(schedule.start);
    await control.reset();
    await control.updateSettings(schedule.settings.marketplace);
    await control.setClock(new Date(now), false);
    const tables = await freshTables(environment.dynamoDb);
    const setup = documentsWith(tables.endpoint);
    try {
      const licensed = await control.createProduct(
        meteredProduct({ identityModel: 'license', dimensions: LICENSE_DIMENSIONS.map(metered) }),
      );
      const legacy = await control.createProduct(
        meteredProduct({ identityModel: 'legacy', dimensions: LEGACY_DIMENSIONS.map(metered) }),
      );
      const products: MeteredProduct[] = [
        { code: licensed.code, identityModel: 'license', meteredDimensions: [...LICENSE_DIMENSIONS] },
        { code: legacy.code, identityModel: 'legacy', meteredDimensions: [...LEGACY_DIMENSIONS] },
      ];
      const subscribers: Subscriber[] = [];
      for (const spec of schedule.subscribers) {
        const code = spec.model === 'license' ? licensed.code : legacy.code;
        const buyer = await subscribeBuyer(
          { control, client: setup.client, subscribersTable: tables.subscribers },
          code,
          new Date(now),
          { since: minutesFrom(new Date(now), -spec.minutesBeforeStart) },
        );
        subscribers.push({ id: buyer.subscriberId, license: buyer.license, identity: identityOf(buyer.license) });
      }
      return new ChaosPlay(schedule, environment, tables, products, subscribers, now);
    } finally {
      setup.destroy();
    }
  }

  world(): ChaosWorld {
    return {
      client: this.documents.client,
      usageTable: this.tables.usage,
      simulatorUrl: this.environment.simulatorUrl,
      now: new Date(this.now),
      subscribers: this.subscribers,
    };
  }

  close(): void {
    this.documents.destroy();
  }

  async step(step: ChaosStep): Promise<void> {
    bump(this.stats.steps, step.kind);
    const { control } = this.environment;
    switch (step.kind) {
      case 'record':
        return this.record(step.events, step.answerLost);
      case 'faults':
        await control.setFaults(step.plan);
        return;
      case 'clear-faults':
        await control.clearFaults();
        return;
      case 'advance':
        return this.setNow(this.now + step.minutes * MINUTE_MS);
      case 'run':
        await this.meter({ now: new Date(this.now) }, step.kill, step.flakyTable, step.budget);
        return;
      case 'two-runs':
        await Promise.all([
          this.meter({ now: new Date(this.now) }, undefined, step.flakyTable),
          this.meter({ now: new Date(this.now + step.offsetSeconds * 1000) }, step.kill),
        ]);
        return;
      case 'run-while-recording':
        await Promise.all([this.meter({ now: new Date(this.now) }), this.record(step.events)]);
        return;
      case 'end-license':
        return this.endLicense(step.subscriber);
      case 'final-run':
        return this.finalRun(step);
    }
  }

  private async setNow(instant: number): Promise<void> {
    this.now = instant;
    await this.environment.control.setClock(new Date(instant), false);
  }

  private recorderDependencies(client: DocumentClient): UsageRecorderDependencies {
    return {
      client,
      usageTable: this.tables.usage,
      subscribersTable: this.tables.subscribers,
      products: this.products,
      acceptanceWindowHours: this.schedule.settings.acceptanceWindowHours,
      eventIdRetentionDays: EVENT_ID_RETENTION_DAYS,
      finalMetering: FINAL_METERING,
    };
  }

  /**
   * Sends one call to the recorder and books its answers. With `lostAnswer`, the call's process dies at that point and
   * the caller sends the same call again (as it would after a timeout).
   */
  private async record(events: readonly ChaosEvent[], lostAnswer?: KillPlan): Promise<void> {
    const at = new Date(this.now);
    const sent = events.map((event) => this.sentEvent(event));
    this.stats.eventsSent += sent.length;
    let lost = false;
    try {
      if (lostAnswer !== undefined) {
        // A recorder call makes two AWS calls: it reads subscribers and event keys, then writes one transaction.
        const killSwitch = new KillSwitch({ ...lostAnswer, afterOps: 1 + Math.floor(lostAnswer.at * 2) });
        const dying = documentsWith(this.tables.endpoint, killSwitch);
        try {
          // Not killed (the call made fewer AWS calls than planned): its answer came back, and counts.
          return this.books.answered(
            sent,
            await recordUsage(this.recorderDependencies(dying.client), sent, at),
            at,
            false,
          );
        } catch (error) {
          // Killed mid-write, the recorder's resends of its transaction die too: the outcome is unknown to it.
          const killed =
            error instanceof Crash || (error instanceof UsageOutcomeUnknownError && error.cause instanceof Crash);
          if (!killed) throw error;
          lost = true;
          this.stats.killsFired++;
        } finally {
          dying.destroy();
        }
      }
      this.books.answered(
        sent,
        await recordUsage(this.recorderDependencies(this.documents.client), sent, at),
        at,
        lost,
      );
    } catch (error) {
      this.violations.push(`recordUsage threw at ${at.toISOString()}: ${String(error)}`);
    }
  }

  private sentEvent(event: ChaosEvent): SentEvent {
    return {
      subscriberId: event.subscriber === -1 ? UNKNOWN_SUBSCRIBER : this.subscribers[event.subscriber]!.id,
      dimension: event.dimension,
      quantity: event.quantity,
      timestamp: event.timestamp,
      ...(event.eventId === undefined ? {} : { eventId: event.eventId }),
      ...(event.tags === undefined ? {} : { tags: event.tags }),
    };
  }

  private readonly logger: MeteringLogger = {
    info: () => {},
    warn: () => {},
    error: (message) => bump(this.stats.loggedErrors, message),
  };

  /** One metering run on clients of its own (its own process); answers its summary, or `undefined` if it died. */
  /** `budget`: buckets the run takes before its time budget runs out (its clock moves one tick a bucket). */
  private async meter(
    options: { readonly now: Date; readonly scope?: MeteringScope },
    kill?: KillPlan,
    flakyTable?: FlakyTable,
    budget?: number,
  ): Promise<MeteringRunSummary | undefined> {
    this.stats.runs++;
    const flakiness = flakyTable === undefined ? undefined : new TableFlakiness(flakyTable);
    const killSwitch = new KillSwitch(
      kill === undefined
        ? undefined
        : { ...kill, afterOps: 1 + Math.floor(kill.at * (await this.expectedCalls(options, kill))) },
    );
    const process = documentsWith(this.tables.endpoint, killSwitch, flakiness);
    const metering = meteringClient(this.environment.simulatorUrl);
    /** A run that dies may have had its answers and not recorded them: to the books, those sends went unconfirmed. */
    const sentByThisRun = new Set<string>();
    metering.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'BatchMeterUsageCommand') return killSwitch.around(true, () => next(args));
        const keys = recordIdsOf(args.input as BatchMeterUsageRequest);
        for (const key of keys) sentByThisRun.add(key);
        try {
          return await killSwitch.around(true, () => next(args));
        } catch (error) {
          const answered = error instanceof MarketplaceMeteringServiceException;
          const neverSent = error instanceof Crash && !error.sent;
          if (!answered && !neverSent) for (const key of keys) this.unconfirmed.add(key);
          throw error;
        }
      },
      { step: 'initialize', name: 'chaosKillSwitch' },
    );
    const { settings } = this.schedule;
    try {
      const summary = await meterUsage(
        {
          client: process.client,
          usageTable: this.tables.usage,
          subscribersTable: this.tables.subscribers,
          metering,
          closedHourGraceMinutes: settings.closedHourGraceMinutes,
          acceptanceWindowHours: settings.acceptanceWindowHours,
          finalMetering: FINAL_METERING,
          callsPerSecond: settings.callsPerSecond,
          zeroUsageRecords: settings.zeroUsageRecords,
          products: this.products,
          logger: this.logger,
          sleep: killSwitch.sleep,
          retryPolicy: { maxAttempts: settings.maxAttempts, baseDelayMs: 1, maxDelayMs: 1 },
          ...(budget === undefined ? {} : { elapsed: ticks() }),
        },
        { ...options, ...(budget === undefined ? {} : { timeBudgetMs: budget + 1 }) },
      );
      if (summary.handOver) this.stats.handOvers++;
      if (killSwitch.dead) this.stats.killsFired++;
      return killSwitch.dead ? undefined : summary;
    } catch (error) {
      if (killSwitch.dead) {
        this.stats.killsFired++;
        return undefined;
      }
      // A run may give up when its table fails under it (it cannot list what is due, say): the next run does the work.
      if (error instanceof FlakyTableError) {
        this.stats.runsFailedOnTable++;
        return undefined;
      }
      this.violations.push(`a run at ${options.now.toISOString()} that nobody killed threw: ${String(error)}`);
      return undefined;
    } finally {
      // A run that dies, or whose table fails under it, may have had answers it could not record.
      if (killSwitch.dead || (flakiness?.failures ?? 0) > 0) for (const key of sentByThisRun) this.unconfirmed.add(key);
      this.stats.tableFailures += flakiness?.failures ?? 0;
      process.destroy();
      metering.destroy();
    }
  }

  /** About how many AWS calls a run will make (all of them, or its Marketplace calls), to kill it somewhere inside. */
  private async expectedCalls(options: { readonly now: Date; readonly scope?: MeteringScope }, kill: KillPlan) {
    const { settings } = this.schedule;
    const dueBefore = hourOf(new Date(options.now.getTime() - settings.closedHourGraceMinutes * MINUTE_MS)).getTime();
    const ending = new Set([...this.ends.keys()].map((index) => this.subscribers[index]!.id));
    const due = (await scan(this.documents.client, this.tables.usage)).filter(
      (item) =>
        isBucketItem(item) &&
        !isSettled(item) &&
        (options.scope === undefined
          ? Date.parse(String(item.hour)) < dueBefore
          : ending.has(String(item.subscriberId))),
    ).length;
    const zeroUsage = settings.zeroUsageRecords && options.scope === undefined ? this.subscribers.length : 0;
    const calls = Math.max(1, Math.ceil((due + zeroUsage) / 25) + 1);
    if (kill.target === 'metering') return calls;
    // Index queries and zero-usage writes, a freeze and a settle per bucket, a read per subscriber, the calls.
    return 8 + (zeroUsage > 0 ? 8 + zeroUsage : 0) + 2 * (due + zeroUsage) + this.subscribers.length + calls;
  }

  /** The buyer cancels: the simulator ends the license, and the lifecycle hears of it at once. */
  private async endLicense(index: number): Promise<void> {
    const subscriber = this.subscribers[index]!;
    this.ends.set(index, this.now);
    await this.environment.control.end(subscriber.license.id);
    await new LifecycleRepository(
      this.documents.client,
      this.tables.subscribers,
      FINAL_METERING.graceSeconds,
    ).applyToSubscriber(
      { subscriber: subscriber.identity, facts: ['endRequestedAt'], at: new Date(this.now) },
      new Date(this.now),
    );
  }

  private async finalRun(step: Extract<ChaosStep, { kind: 'final-run' }>): Promise<void> {
    if (step.guaranteed) this.noteReachableFinalWindows();
    const run = this.meter({ now: new Date(this.now), scope: 'ending' }, step.kill, step.flakyTable);
    const alongside =
      step.alongside === undefined
        ? undefined
        : 'run' in step.alongside
          ? this.meter({ now: new Date(this.now) })
          : this.record(step.alongside.events);
    await Promise.all([run, alongside]);
  }

  /** Ended subscribers whose final hour is due now and whose final window Marketplace still keeps open. */
  private noteReachableFinalWindows(): void {
    const grace = this.schedule.settings.marketplace.finalMeteringGraceSeconds * 1000;
    for (const [index, end] of this.ends) {
      if (end + FINAL_SEND_AFTER_END_MS <= this.now && this.now < end + grace) {
        this.reachableInFinalWindow.add(this.subscribers[index]!.id);
        this.stats.finalWindowsGuaranteed++;
      }
    }
  }

  /**
   * No more faults; a final-metering run inside every final window still open; then the clock past each hour's grace,
   * runs until nothing due is left.
   */
  async drain(): Promise<void> {
    const { control } = this.environment;
    const faultStats = (await control.stats()).operations.BatchMeterUsage;
    this.stats.faults = {
      throttled: faultStats.throttled,
      internalErrors: faultStats.internalErrors,
      dropped: faultStats.dropped,
      delayed: faultStats.delayed,
      unprocessedRecords: faultStats.unprocessedRecords,
    };
    await control.clearFaults();
    const grace = this.schedule.settings.marketplace.finalMeteringGraceSeconds * 1000;
    for (const end of [...this.ends.values()].sort((a, b) => a - b)) {
      const sendFrom = end + FINAL_SEND_AFTER_END_MS;
      if (this.now >= end + grace) continue;
      if (this.now < sendFrom) await this.setNow(sendFrom);
      this.noteReachableFinalWindows();
      this.stats.drainRuns++;
      await this.meter({ now: new Date(this.now), scope: 'ending' });
    }
    const graceMs = (this.schedule.settings.closedHourGraceMinutes + 1) * MINUTE_MS;
    for (let round = 0; round < 4; round++) {
      await this.setNow(Math.floor(this.now / HOUR_MS) * HOUR_MS + HOUR_MS + graceMs);
      let summary: MeteringRunSummary | undefined;
      for (let attempt = 0; attempt < 3 && (summary === undefined || summary.pending > 0); attempt++) {
        this.stats.drainRuns++;
        summary = await this.meter({ now: new Date(this.now) });
      }
      if (summary !== undefined && summary.pending > 0) {
        this.violations.push(
          `three fault-free runs at ${new Date(this.now).toISOString()} still left ${summary.pending} pending`,
        );
      }
      const items = await scan(this.documents.client, this.tables.usage);
      if (items.every((item) => !isBucketItem(item) || isSettled(item))) break;
    }
  }

  async check(): Promise<ChaosReport> {
    const { control } = this.environment;
    const items = await scan(this.documents.client, this.tables.usage);
    this.books.settleLostCalls(items.filter((item) => String(item.pk).startsWith('EVENT#')));
    const licenseProduct = this.products[0]!.code;
    const billed = (await control.billed()).records.map((record) => ({
      ...record,
      subscriberId:
        record.productCode === licenseProduct
          ? `license:${record.licenseArn ?? ''}`
          : `legacy:${record.productCode}:${record.customerIdentifier ?? ''}`,
    }));
    checkBooks(
      this.books,
      {
        items,
        billed,
        unconfirmed: this.unconfirmed,
        reachableInFinalWindow: this.reachableInFinalWindow,
        ends: new Map([...this.ends].map(([index, end]) => [this.subscribers[index]!.id, new Date(end)])),
      },
      this.stats,
      this.violations,
    );
    const duplicates = (await control.results({ status: 'DuplicateRecord' })).results;
    if (duplicates.length > 0)
      this.violations.push(`Marketplace answered DuplicateRecord: ${JSON.stringify(duplicates)}`);
    if ((this.stats.loggedErrors['Marketplace answered DuplicateRecord'] ?? 0) > 0) {
      this.violations.push('the run logged a DuplicateRecord answer');
    }
    return { violations: this.violations, stats: this.stats };
  }
}

/** A clock that moves one millisecond each time it is read: a run reads it once as it starts, then once a bucket. */
function ticks(): () => number {
  let elapsed = 0;
  return () => elapsed++;
}

/** The books' key of every record of a request: the customer, dimension and hour. */
function recordIdsOf(request: BatchMeterUsageRequest): string[] {
  return (request.UsageRecords ?? []).map((record) =>
    recordId(
      request.ProductCode === undefined
        ? `license:${record.LicenseArn ?? ''}`
        : `legacy:${request.ProductCode}:${record.CustomerIdentifier ?? ''}`,
      record.Dimension ?? '',
      record.Timestamp ?? new Date(0),
    ),
  );
}

const metered = (name: string) => ({ name, kind: 'metered' as const });

export async function scan(client: DocumentClient, table: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  const pages = itemsOfPages((startKey) =>
    client.send(new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: startKey })),
  );
  for await (const item of pages) items.push(item);
  return items;
}

const isBucketItem = (item: Record<string, unknown>) => String(item.pk).startsWith('USAGE#');
const isSettled = (item: Record<string, unknown>) => item.state !== 'open' && item.state !== 'frozen';
