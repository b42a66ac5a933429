/**
 * The backend on one machine: the very handlers the CDK stack deploys, wired as in Lambda, behind the local API gateway
 * (API Gateway proxy events), the local DynamoDB stream poller (stream events), the local queues (SQS events), a local
 * schedule and the local event bus, against DynamoDB Local and the Marketplace simulator. `npm start` and the
 * integration tests both build it here.
 *
 * The lifecycle: the simulator's notifications (EventBridge, and SNS for legacy products, as configured) reach the
 * lifecycle queue as AWS delivers them, and its consumer writes the subscribers' state; a schedule ends subscriptions
 * whose final-metering window has passed. The seller's events on the bus go through the webhook queue to the seller's
 * webhook (`notifications.webhookUrl`), or to the local webhook receiver when none is configured.
 *
 * Each function is made from the same wiring its Lambda entry runs (the `*-function.ts` beside each entry), given a runtime of
 * this stack's own: its variables (as the stack would set them), the simulator's clock (moving it moves the whole
 * stack, as Marketplace and AWS share one time when deployed) and local credentials. Nothing is process-wide, so
 * several local stacks can run in one process, each on its own tables, simulator and ports.
 */
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import {
  BUYER_RETRY_AFTER_SECONDS,
  METERING_FUNCTION_TIMEOUT_SECONDS,
  QUEUE_CONSUMERS,
  SELLER_EVENT,
  type FunctionName,
} from '../contracts/index.ts';
import { systemClock, type Clock } from '../lambdas/core/clock.ts';
import { loggerOf, type FunctionRuntime } from '../lambdas/core/function-runtime.ts';
import { LifecycleRepository } from '../lambdas/core/lifecycle/lifecycle-repository.ts';
import type { MeteringRunSummary } from '../lambdas/core/metering/run/index.ts';
import { subscriberAccessFunction } from '../lambdas/access/subscriber-access-function.ts';
import { finalMeteringWindowsFunction } from '../lambdas/lifecycle/final-metering-windows-function.ts';
import { lifecycleFunction } from '../lambdas/lifecycle/lifecycle-function.ts';
import { meteringFunction } from '../lambdas/metering/metering-function.ts';
import { usageFunction } from '../lambdas/metering/usage-function.ts';
import { sellerNotifierFunction } from '../lambdas/seller-notifications/seller-notifier-function.ts';
import { createWebhookHandler } from '../lambdas/seller-notifications/webhook-handler.ts';
import { fulfillmentFunction } from '../lambdas/registration/fulfillment-function.ts';
import { inExecutionEnvironments } from './execution-environments.ts';
import { registrationPageFunction } from '../lambdas/registration/registration-page-function.ts';
import { apiRoutes, fulfillmentRoute } from '../lib/api-routes.ts';
import type { Config } from '../lib/config.ts';
import { finalMeteringGraceVariable, meteringVariables, registrationVariables } from '../lib/function-environment.ts';
import { TRY_AGAIN_PAGE, tryAgainPageHeaders } from '../lib/try-again-page.ts';
import type { SimulatorClock } from '../simulator/clock.ts';
import { SimulatorControl } from '../simulator/control-client.ts';
import { startSimulator, type RunningSimulator } from '../simulator/server.ts';
import { apiRegionOf, configureSimulator, standInPathOf, withLocalAppUrls } from './config.ts';
import { createTables, type TableNames } from './dynamodb/tables.ts';
import { startLocalEventBus, type LocalEventBus } from './event-bus.ts';
import { startLocalGateway, type BodyEncoding, type ProxyHandler, type RunningGateway } from './gateway/server.ts';
import { createLambdaContext } from './lambda-context.ts';
import { clockCatchUp } from './clock-catch-up.ts';
import { runMeteringStateMachine } from './metering-state-machine.ts';
import { startMarketplaceMessageRelay } from './marketplace-message-relay.ts';
import { RelayedEvents } from './relayed-events.ts';
import { startLocalQueue, type LocalQueue, type LocalQueueOptions } from './queue.ts';
import { LocalQueueStore } from './queue-store.ts';
import { scheduledEvent, startLocalSchedule } from './schedule.ts';
import { startSqsEndpoint } from './sqs-endpoint.ts';
import { startStreamPoller, type StreamPoller, type StreamPollerOptions } from './stream-poller.ts';
import { StreamPositions } from './stream-positions.ts';
import { STAND_IN_APP_PATH, startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts';
import { LocalStackError } from './errors.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './local-aws.ts';

export interface LocalStackOptions {
  readonly config: Config;
  /** A running DynamoDB Local, and a client for it. */
  readonly dynamoDb: { readonly endpoint: string; readonly client: DynamoDBClient };
  /** Put in front of every table name, so that several stacks can share one DynamoDB Local. */
  readonly tablePrefix?: string;
  readonly apiPort?: number;
  readonly simulatorPort?: number;
  readonly eventBusPort?: number;
  readonly webhookReceiverPort?: number;
  /**
   * The secret webhook calls are signed with (the Secrets Manager secret, in AWS), for an app of your own at
   * `notifications.webhookUrl` to check them with. Default: one made up at start, shared with the local receiver.
   */
  readonly webhookSecret?: string;
  /**
   * Where the simulator, the queues and the stream poller keep their state across restarts (`npm start` gives the
   * tables' data directory: the local state survives a restart as a whole or not at all). Unset, all are in memory.
   */
  readonly stateDir?: string;
  /** The queues' SQS-shaped endpoint (`sqs-endpoint.ts`), for `npm run redrive`. */
  readonly sqsPort?: number;
  /**
   * How the lifecycle and webhook queues retry. Defaults: 10 receives and real time, as deployed, but a 30 s visibility
   * timeout (SQS's default) rather than the deployed six times the function's timeout, so a retry shows within a minute.
   */
  readonly queueRetries?: Pick<LocalQueueOptions, 'visibilityTimeoutMs' | 'maxReceiveCount' | 'deferralSecondMs'>;
  /**
   * How the Subscribers stream retries a record the seller notifier keeps failing on (a seller bus that is down).
   * Default: as deployed, for 12 hours by the simulator's clock from its first delivery since this start, pausing 0.2 s
   * doubling to 5 s.
   */
  readonly streamRetries?: Pick<StreamPollerOptions, 'maxRecordAgeMs' | 'retryDelayMs' | 'maxRetryDelayMs'>;
  /**
   * Whether the simulator's lifecycle notifications reach the lifecycle queue (the default). Without them, subscribers
   * stay as the buyer's arrival left them, for tests of registration alone.
   */
  readonly marketplaceNotifications?: boolean;
  /** How often the final-metering sweep runs (default every minute; deployed, every five). */
  readonly finalMeteringSweepEveryMs?: number;
  /**
   * How often the metering run goes (default every minute of real time; deployed, hourly). Each run meters the hours
   * closed by the simulator's clock, so advancing that clock an hour and waiting a run bills the hour.
   */
  readonly meteringEveryMs?: number;
  /** How often final metering meters ending subscribers (default every minute of real time, as deployed). */
  readonly finalMeteringEveryMs?: number;
  /**
   * Whether moving the simulator's clock forward stops on the way to run final metering and the metering run as their
   * schedules would have (`clock-catch-up.ts`): on for `npm start`; off by default, for tests that run them themselves.
   */
  readonly catchUpClockJumps?: boolean;
  /**
   * How the gateway hands bodies to the handlers: by default as the deployed API does, as text (it names no binary
   * media types); tests of the handlers try the other ways API Gateway has.
   */
  readonly bodyEncoding?: BodyEncoding;
  /** Powertools log level of the handlers (`SILENT` in tests that do not read logs); default `INFO`. */
  readonly logLevel?: LogLevel;
}

export interface LocalStack {
  /** The API stage, e.g. `http://127.0.0.1:3000/local`. */
  readonly apiUrl: string;
  readonly fulfillmentUrl: string;
  readonly simulator: RunningSimulator;
  readonly eventBus: LocalEventBus;
  readonly tables: TableNames;
  readonly subscriberStream: StreamPoller;
  /** Marketplace messages, consumed by the lifecycle function. */
  readonly lifecycleQueue: LocalQueue;
  /** The seller's events, consumed by the webhook function. */
  readonly webhookQueue: LocalQueue;
  /** Where the webhook function calls: `notifications.webhookUrl`, or the local receiver's URL. */
  readonly webhookUrl: string;
  readonly webhookReceiver: WebhookReceiver;
  /** The URL of the queues' SQS-shaped endpoint. */
  readonly sqsEndpoint: string;
  /** What the scheduled sweep does, as of `now`: answers the subscribers whose final-metering window it closed. */
  closeFinalMeteringWindows(now: Date): Promise<string[]>;
  /** One scheduled metering run, now by the simulator's clock, as the schedule invokes it; answers its summary. */
  meter(): Promise<MeteringRunSummary>;
  /** One scheduled final-metering run (every ending subscriber), as its schedule invokes it; answers its summary. */
  meterFinal(): Promise<MeteringRunSummary>;
  close(): Promise<void>;
}

/** As deployed. */
const METERING_TIMEOUT_MS = METERING_FUNCTION_TIMEOUT_SECONDS.hourly * 1000;
const FINAL_METERING_TIMEOUT_MS = METERING_FUNCTION_TIMEOUT_SECONDS.final * 1000;
/** The sweep's, as deployed (`lib/lifecycle.ts`). */
const FINAL_METERING_WINDOWS_TIMEOUT_MS = 120_000;

/** The name of the seller's event bus locally (in AWS the stack names it). */
const LOCAL_BUS_NAME = 'saas-marketplace-local';
/** The stream poller's invocations, as the deployed event source mapping's function timeout. */
const SELLER_NOTIFIER_TIMEOUT_MS = 30_000;
/** The queue consumers as the stack deploys them (one batch at a time locally). */
const consumerOf = (functionName: keyof typeof QUEUE_CONSUMERS) => {
  const { functionTimeoutSeconds, batchSize, maxReceiveCount } = QUEUE_CONSUMERS[functionName];
  return { functionName, functionTimeoutMs: functionTimeoutSeconds * 1000, batchSize, maxReceiveCount };
};
const lifecycleConsumer = consumerOf('lifecycle');
const webhookConsumer = consumerOf('webhook');

interface Closeable {
  close(): Promise<void>;
}

/** What a stack has started, to stop in reverse order, whether the stack stops or fails to start. */
class StartedParts {
  private readonly parts: Closeable[] = [];

  add<T extends Closeable>(part: T): T {
    this.parts.push(part);
    return part;
  }

  /** A part that stops rather than closes (a queue, a poller, a schedule). */
  stopping<T extends { stop(): Promise<void> }>(part: T): T {
    this.parts.push({ close: () => part.stop() });
    return part;
  }

  /** One after another, the latest first: a part stops before those it hands work to (a queue before its source). */
  async closeAll(): Promise<void> {
    for (const part of [...this.parts].reverse()) await part.close().catch(() => undefined);
  }
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { config, dynamoDb } = options;
  const parts = new StartedParts();
  try {
    const tables = await createTables(dynamoDb.client, { prefix: options.tablePrefix ?? '' });
    const { simulator, control } = await startMarketplace(options, parts);
    const eventBus = parts.add(await startLocalEventBus({ busName: LOCAL_BUS_NAME, port: options.eventBusPort ?? 0 }));
    // Shared with the local receiver only: in AWS the secret lives in Secrets Manager and the seller's app.
    const webhookSecret = options.webhookSecret ?? randomBytes(32).toString('base64url');
    const webhookReceiver = parts.add(
      await startWebhookReceiver({
        secret: webhookSecret,
        port: options.webhookReceiverPort ?? 0,
        // It hears of registrations only when it is the webhook.
        registrationLandingPaths: config.notifications.webhookUrl === undefined ? registrationLandingPaths(config) : [],
      }),
    );
    // One time for Marketplace and the functions, as in AWS: moving the simulator's clock moves the whole stack.
    const clock = simulator.simulator.clock;
    const runtime: FunctionRuntime = {
      variables: {
        SUBSCRIBERS_TABLE: tables.Subscribers,
        USAGE_TABLE: tables.Usage,
        DYNAMODB_ENDPOINT: dynamoDb.endpoint,
        MARKETPLACE_REGION: config.marketplaceRegion,
        MARKETPLACE_ENDPOINT: simulator.url,
        EVENT_BUS_NAME: eventBus.busName,
        EVENT_SOURCE: config.events.source,
        EVENTS_ENDPOINT: eventBus.url,
        ENTITLEMENT_ENDPOINT: simulator.url,
        ...registrationVariables(withLocalAppUrls(config, webhookReceiver.appUrl)),
        ...finalMeteringGraceVariable(config),
        ...meteringVariables(config),
        METRICS_NAMESPACE: 'SaasMarketplace/local',
      },
      clock,
      logLevel: options.logLevel ?? 'INFO',
      // Any credentials sign requests to the local endpoints; real ones must never be sent there.
      aws: { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS },
      // Locally the run's summary is in its log line; EMF metrics would only repeat it on stdout.
      metrics: false,
    };
    const metering = meteringFunction('metering', 'closed-hours', runtime);
    const finalMetering = meteringFunction('final-metering', 'ending', runtime);
    const closeFinalMeteringWindows = finalMeteringWindowsFunction(runtime);

    const queueStore = options.stateDir === undefined ? undefined : { store: new LocalQueueStore(options.stateDir) };
    const webhookUrl = config.notifications.webhookUrl ?? webhookReceiver.url;
    const webhookQueue = parts.stopping(
      startWebhookQueue({ ...options.queueRetries, ...queueStore }, runtime, webhookUrl, webhookSecret),
    );
    eventBus.addRule({ source: config.events.source }, (event) => webhookQueue.send(JSON.stringify(event)));
    // As the deployed rule does, every Subscriber Ending event starts final metering of that subscriber at once.
    eventBus.addRule({ source: config.events.source, detailType: SELLER_EVENT.ending }, (event) => {
      finalMetering(event, createLambdaContext('final-metering', FINAL_METERING_TIMEOUT_MS, clock.now())).catch(
        (error: unknown) => console.error('final-metering: the run failed', error),
      );
    });

    // The stream is read before the lifecycle queue is consumed (it may hold messages kept from the last run) and
    // before the API answers anyone, so no change to a subscriber can slip past it.
    const subscriberStream = parts.stopping(
      await startStreamPoller({
        dynamoDb: dynamoDb.client,
        endpoint: dynamoDb.endpoint,
        tableName: tables.Subscribers,
        handler: sellerNotifierFunction(runtime),
        context: () => createLambdaContext('seller-notifier', SELLER_NOTIFIER_TIMEOUT_MS, new Date()),
        ...(options.stateDir === undefined ? {} : { positions: new StreamPositions(options.stateDir) }),
        // A record counts as handled once what it sent on is as safe as the position saved past it.
        downstreamFlushed: () => webhookQueue.flushed(),
        clock,
        ...options.streamRetries,
      }),
    );
    const lifecycleQueue = parts.stopping(
      startLocalQueue({
        name: 'lifecycle',
        handler: lifecycleFunction(runtime),
        clock,
        ...lifecycleConsumer,
        ...options.queueRetries,
        ...queueStore,
      }),
    );
    startSchedules(options, { metering, finalMetering, closeFinalMeteringWindows }, clock, parts);
    const sqsEndpoint = parts.add(
      await startSqsEndpoint({ queues: [lifecycleQueue, webhookQueue], port: options.sqsPort ?? 0 }),
    );
    // Only now is the simulator told where to push: the queue is consumed and its writes reach the stream poller.
    if (options.marketplaceNotifications ?? true) {
      parts.add(
        await startMarketplaceMessageRelay({
          control,
          eventSources: config.lifecycle.eventSources,
          queue: lifecycleQueue,
          // Read at each call: a reset gives the simulator a new feed.
          feed: (afterSequence, format) => simulator.simulator.events.feed(afterSequence, format),
          relayed: new RelayedEvents(options.stateDir),
        }),
      );
    }

    const gateway = parts.add(await startGateway(options, runtime, clock));
    const fulfillmentUrl = `${gateway.url}${fulfillmentRoute.path}`;
    await control.updateSettings({ fulfillmentUrl });

    const lifecycleRepository = new LifecycleRepository(
      DynamoDBDocumentClient.from(dynamoDb.client, { marshallOptions: { removeUndefinedValues: true } }),
      tables.Subscribers,
      Number(finalMeteringGraceVariable(config).FINAL_METERING_GRACE_SECONDS),
    );
    if (options.catchUpClockJumps === true) {
      simulator.simulator.clockJumpHandler = clockCatchUp({
        finalHourMarginMinutes: config.metering.finalHourMarginMinutes,
        scheduleMinute: config.metering.scheduleMinute,
        settle: async () => {
          await simulator.simulator.events.drained();
          await triedWithin(lifecycleQueue, CATCH_UP_SETTLE_MS);
        },
        finalMeteringDeadlines: (after) => lifecycleRepository.finalMeteringDeadlinesAfter(after),
        finalMetering: () => invokeScheduled('final-metering', finalMetering, FINAL_METERING_TIMEOUT_MS, clock),
        metering: () =>
          runMeteringStateMachine(
            { handler: metering, functionName: 'metering', timeoutMs: METERING_TIMEOUT_MS, clock },
            scheduledEvent('metering', clock.now()),
          ),
        closeFinalMeteringWindows: () =>
          closeFinalMeteringWindows(
            scheduledEvent('final-metering-windows', clock.now()),
            createLambdaContext('final-metering-windows', FINAL_METERING_WINDOWS_TIMEOUT_MS, clock.now()),
          ),
      });
      parts.add({
        close: () => {
          simulator.simulator.clockJumpHandler = undefined;
          return Promise.resolve();
        },
      });
    }

    return {
      apiUrl: gateway.url,
      fulfillmentUrl,
      simulator,
      eventBus,
      tables,
      subscriberStream,
      lifecycleQueue,
      webhookQueue,
      webhookUrl,
      webhookReceiver,
      sqsEndpoint: sqsEndpoint.url,
      closeFinalMeteringWindows: (now) => lifecycleRepository.closeFinalMeteringWindows(now),
      meter: () => invokeScheduled('metering', metering, METERING_TIMEOUT_MS, clock),
      meterFinal: () => invokeScheduled('final-metering', finalMetering, FINAL_METERING_TIMEOUT_MS, clock),
      close: () => parts.closeAll(),
    };
  } catch (error) {
    await parts.closeAll();
    throw error;
  }
}

/** Where the stand-in app's free-trial landing page is, when the configured one is an example: a buyer lands there. */
function registrationLandingPaths(config: Config): string[] {
  const { freeTrialLandingUrl } = config.registration;
  const path = freeTrialLandingUrl === undefined ? undefined : standInPathOf(freeTrialLandingUrl);
  return path === undefined ? [] : [`${STAND_IN_APP_PATH}${path}`];
}

/** The simulator, configured with the products, and no longer pushing to a relay that went with a previous run. */
async function startMarketplace(
  options: LocalStackOptions,
  parts: StartedParts,
): Promise<{ simulator: RunningSimulator; control: SimulatorControl }> {
  const simulator = parts.add(
    await startSimulator({
      port: options.simulatorPort ?? 0,
      ...(options.stateDir === undefined ? {} : { dataDir: options.stateDir }),
    }),
  );
  const control = new SimulatorControl(simulator.url);
  await configureSimulator(control, options.config);
  for (const { id } of (await control.eventSubscriptions()).subscriptions) await control.unsubscribeEvents(id);
  return { simulator, control };
}

type MeteringHandler = ReturnType<typeof meteringFunction>;

/** The schedules the stack deploys: the final-metering sweep, the metering run (a state machine), final metering. */
function startSchedules(
  options: LocalStackOptions,
  functions: {
    readonly metering: MeteringHandler;
    readonly finalMetering: MeteringHandler;
    readonly closeFinalMeteringWindows: ReturnType<typeof finalMeteringWindowsFunction>;
  },
  clock: Clock,
  parts: StartedParts,
): void {
  parts.stopping(
    startLocalSchedule({
      ruleName: 'final-metering-windows',
      everyMs: options.finalMeteringSweepEveryMs ?? 60_000,
      handler: functions.closeFinalMeteringWindows,
      functionName: 'final-metering-windows',
      functionTimeoutMs: FINAL_METERING_WINDOWS_TIMEOUT_MS,
      clock,
    }),
  );
  parts.stopping(
    startLocalSchedule({
      ruleName: 'metering',
      everyMs: options.meteringEveryMs ?? 60_000,
      handler: (event) =>
        runMeteringStateMachine(
          { handler: functions.metering, functionName: 'metering', timeoutMs: METERING_TIMEOUT_MS, clock },
          event,
        ),
      functionName: 'metering-state-machine',
      functionTimeoutMs: METERING_TIMEOUT_MS,
      clock,
    }),
  );
  parts.stopping(
    startLocalSchedule({
      ruleName: 'final-metering',
      everyMs: options.finalMeteringEveryMs ?? 60_000,
      handler: functions.finalMetering,
      functionName: 'final-metering',
      functionTimeoutMs: FINAL_METERING_TIMEOUT_MS,
      clock,
    }),
  );
}

/** The seller's events, called into the webhook. Its Lambda entry reads the secret from Secrets Manager; not here. */
function startWebhookQueue(
  queueOptions: Pick<LocalQueueOptions, 'visibilityTimeoutMs' | 'maxReceiveCount' | 'deferralSecondMs' | 'store'>,
  runtime: FunctionRuntime,
  url: string,
  secret: string,
): LocalQueue {
  const queue: LocalQueue = startLocalQueue({
    name: 'webhook',
    handler: createWebhookHandler({
      url,
      secret: () => Promise.resolve(secret),
      // A deferral the queue refuses rejects, as the SDK's ChangeMessageVisibility call would.
      retryLater: (record, seconds) => Promise.resolve().then(() => queue.defer(record.receiptHandle, seconds)),
      // As deployed: the receiver checks the timestamp against its own wall clock, not the simulator's.
      clock: systemClock,
      logger: loggerOf('webhook', runtime),
      maxReceiveCount: queueOptions.maxReceiveCount ?? webhookConsumer.maxReceiveCount,
    }),
    ...webhookConsumer,
    ...queueOptions,
  });
  return queue;
}

/** The API's routes, each to its function, with the deployed API's own failure pages and IAM authorization. */
function startGateway(
  options: LocalStackOptions,
  runtime: FunctionRuntime,
  stackClock: SimulatorClock,
): Promise<RunningGateway> {
  // Buyers and the seller's app call at once: each concurrent request is an invocation of its own, as in Lambda.
  const routeFunctions: Partial<Record<FunctionName, ProxyHandler>> = {
    fulfillment: inExecutionEnvironments(() => fulfillmentFunction(runtime)),
    'registration-page': inExecutionEnvironments(() => registrationPageFunction(runtime)),
    'subscriber-access': inExecutionEnvironments(() => subscriberAccessFunction(runtime)),
    usage: inExecutionEnvironments(() => usageFunction(runtime)),
  };
  return startLocalGateway({
    port: options.apiPort ?? 0,
    ...(options.bodyEncoding === undefined ? {} : { base64Bodies: options.bodyEncoding }),
    // The deployed API's gateway responses (lib/gateway-responses.ts): its own failures are pages too.
    serverErrorPage: {
      html: TRY_AGAIN_PAGE,
      headers: tryAgainPageHeaders,
      retryAfterSeconds: BUYER_RETRY_AFTER_SECONDS,
    },
    // As deployed, the seller's routes take SigV4-signed calls only: signed with the local secret, dated by either time
    // (the stack's as it was while a move of the clock stepped it forward, too).
    iam: {
      secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey,
      // Signed for the region the stack deploys to (marketplace.region; unset, us-east-1, where it must then go).
      region: apiRegionOf(options.config),
      clocks: [systemClock, stackClock],
    },
    routes: apiRoutes.map((route) => {
      const handler = routeFunctions[route.functionName];
      if (handler === undefined)
        throw new LocalStackError(`No local function serves ${route.path} (${route.functionName})`);
      return {
        method: 'ANY',
        path: route.path,
        handler,
        functionName: route.functionName,
        authorization: route.authorization,
        timeoutMs: route.timeoutSeconds * 1000,
      };
    }),
  });
}

/**
 * The longest a stop of the clock's catch-up waits for the lifecycle queue to have tried each of its messages once (a
 * message that fails is retried later, as in AWS, and does not hold the clock): a bound for a function that hangs.
 */
const CATCH_UP_SETTLE_MS = 30_000;

function triedWithin(queue: LocalQueue, milliseconds: number): Promise<void> {
  return new Promise<void>((resolve) => {
    setTimeout(resolve, milliseconds).unref();
    void queue.tried().then(resolve);
  });
}

/** One invocation of a scheduled metering function now, as its schedule would invoke it. */
async function invokeScheduled(
  functionName: string,
  handler: MeteringHandler,
  timeoutMs: number,
  clock: Clock,
): Promise<MeteringRunSummary> {
  const summary = await handler(
    scheduledEvent(functionName, clock.now()),
    createLambdaContext(functionName, timeoutMs, clock.now()),
  );
  if (summary === undefined) throw new LocalStackError(`The ${functionName} function did not run`);
  return summary;
}
