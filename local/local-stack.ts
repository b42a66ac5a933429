/**
 * The backend on one machine: the very Lambda handler modules the CDK stack deploys, run behind the local API gateway
 * (API Gateway proxy events), the local DynamoDB stream poller (stream events), the local queues (SQS events), a local
 * schedule and the local event bus, against DynamoDB Local and the Marketplace simulator. `npm start` and the
 * integration tests both build it here.
 *
 * The lifecycle: the simulator's notifications (EventBridge, and SNS for legacy products, as configured) reach the
 * lifecycle queue as AWS delivers them, and its consumer writes the subscribers' state; a schedule ends subscriptions
 * whose final-metering window has passed. The seller's events on the bus go through the webhook queue to the seller's
 * webhook (`notifications.webhookUrl`), or to the local webhook receiver when none is configured.
 *
 * The handlers read their configuration from the environment at import, exactly as in Lambda, so one process holds
 * one local stack: its environment is set before the handler modules are first imported.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { lambdaClock, runLambdasOn, systemClock } from '../lambdas/core/clock.ts';
import { LifecycleRepository } from '../lambdas/core/lifecycle/lifecycle-repository.ts';
import type { MeteringRunSummary } from '../lambdas/core/metering/run/metering-run.ts';
import type { meteringFunction } from '../lambdas/metering/metering-function.ts';
import { METERING_FUNCTION_TIMEOUT_SECONDS, QUEUE_CONSUMERS, SELLER_EVENT } from '../contracts/index.ts';
import { createWebhookHandler } from '../lambdas/notifications/webhook-handler.ts';
import { apiRoutes, fulfillmentRoute } from '../lib/api-routes.ts';
import type { Config } from '../lib/config.ts';
import { RETRY_AFTER_SECONDS, TRY_AGAIN_PAGE, tryAgainPageHeaders } from '../lib/try-again-page.ts';
import { finalMeteringGraceVariable, meteringVariables, registrationVariables } from '../lib/function-environment.ts';
import { configureSimulator, withLocalAppUrls } from './config.ts';
import { createTables, type TableNames } from './dynamodb/tables.ts';
import { startLocalEventBus, type LocalEventBus } from './event-bus.ts';
import { createLambdaContext } from './lambda-context.ts';
import { LOCAL_CREDENTIALS } from './http/signed-fetch.ts';
import { startLocalGateway, type BodyEncoding, type ProxyHandler, type RunningGateway } from './gateway/server.ts';
import { runMeteringStateMachine } from './metering-state-machine.ts';
import { startNotificationRelay } from './notification-relay.ts';
import { startLocalQueue, type LocalQueue, type LocalQueueOptions } from './queue.ts';
import { startSqsEndpoint } from './sqs-endpoint.ts';
import { scheduledEvent, startLocalSchedule } from './schedule.ts';
import { SimulatorControl } from '../simulator/control-client.ts';
import { startSimulator, type RunningSimulator } from '../simulator/server.ts';
import { startStreamPoller, type StreamPoller } from './stream-poller.ts';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts';

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
   * Where the simulator keeps its state across restarts. By default `DYNAMODB_DATA_DIR`, where `npm start` keeps the
   * tables: the local state survives a restart as a whole or not at all. Unset, the simulator's state is in memory.
   */
  readonly simulatorDataDir?: string;
  /** The queues' SQS-shaped endpoint (`sqs-endpoint.ts`), for `npm run redrive`. */
  readonly sqsPort?: number;
  /**
   * How the lifecycle and webhook queues retry. Defaults: 10 receives and real time, as deployed, but a 30 s visibility
   * timeout (SQS's default) rather than the deployed six times the function's timeout, so a retry shows within a minute.
   */
  readonly queueRetries?: Pick<LocalQueueOptions, 'visibilityTimeoutMs' | 'maxReceiveCount' | 'deferralSecondMs'>;
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
  /** How the gateway hands bodies to the handlers (API Gateway may do either). */
  readonly bodyEncoding?: BodyEncoding;
  /** Powertools log level of the handlers (`SILENT` in tests that do not read logs). */
  readonly logLevel?: string;
}

export interface LocalStack {
  /** The API stage, e.g. `http://127.0.0.1:3000/local`. */
  readonly apiUrl: string;
  readonly fulfillmentUrl: string;
  readonly simulator: RunningSimulator;
  readonly eventBus: LocalEventBus;
  readonly tables: TableNames;
  readonly subscriberStream: StreamPoller;
  /** Marketplace's notifications, consumed by the lifecycle function. */
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

/** The name of the seller's event bus locally (in AWS the stack names it). */
const LOCAL_BUS_NAME = 'saas-marketplace-local';
/** The queue consumers as the stack deploys them (one batch at a time locally). */
const consumerOf = (functionName: keyof typeof QUEUE_CONSUMERS) => {
  const { functionTimeoutSeconds, batchSize, maxReceiveCount } = QUEUE_CONSUMERS[functionName];
  return { functionName, functionTimeoutMs: functionTimeoutSeconds * 1000, batchSize, maxReceiveCount };
};
const lifecycleConsumer = consumerOf('lifecycle');
const webhookConsumer = consumerOf('webhook');

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { config, dynamoDb } = options;
  const started: { close(): Promise<void> }[] = [];
  try {
    const tables = await createTables(dynamoDb.client, { prefix: options.tablePrefix ?? '' });
    const simulatorDataDir = options.simulatorDataDir ?? (process.env.DYNAMODB_DATA_DIR || undefined);
    const simulator = await startSimulator({
      port: options.simulatorPort ?? 0,
      ...(simulatorDataDir === undefined ? {} : { dataDir: simulatorDataDir }),
    });
    started.push(simulator);
    // One time for Marketplace and the handlers, as in AWS: moving the simulator's clock moves the whole stack.
    runLambdasOn(simulator.simulator.clock);
    started.push({ close: () => Promise.resolve(runLambdasOn(systemClock)) });
    const control = new SimulatorControl(simulator.url);
    await configureSimulator(control, config);
    // A restored simulator would still push to the previous run's notification relay, which went with that run.
    for (const { id } of (await control.eventSubscriptions()).subscriptions) await control.unsubscribeEvents(id);
    const eventBus = await startLocalEventBus({ busName: LOCAL_BUS_NAME, port: options.eventBusPort ?? 0 });
    started.push(eventBus);
    // Shared with the local receiver only: in AWS the secret lives in Secrets Manager and the seller's app.
    const webhookSecret = randomBytes(32).toString('base64url');
    const webhookReceiver = await startWebhookReceiver({
      secret: webhookSecret,
      port: options.webhookReceiverPort ?? 0,
    });
    started.push(webhookReceiver);

    Object.assign(process.env, {
      // Any credentials sign requests to the local endpoints; real ones must never be sent there.
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      POWERTOOLS_LOG_LEVEL: options.logLevel ?? 'INFO',
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
      // Locally the run's summary is in its log line; EMF metrics would only repeat it on stdout.
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    const sellerNotifier = await import('../lambdas/notifications/seller-notifier.ts');
    const lifecycle = await import('../lambdas/lifecycle/lifecycle.ts');
    const finalMeteringWindows = await import('../lambdas/lifecycle/final-metering-windows.ts');
    const metering = await import('../lambdas/metering/metering.ts');
    const finalMetering = await import('../lambdas/metering/final-metering.ts');

    const lifecycleQueue = startLocalQueue({
      name: 'lifecycle',
      handler: lifecycle.handler,
      ...lifecycleConsumer,
      ...options.queueRetries,
    });
    started.push({ close: () => lifecycleQueue.stop() });
    const sweep = startLocalSchedule({
      ruleName: 'final-metering-windows',
      everyMs: options.finalMeteringSweepEveryMs ?? 60_000,
      handler: finalMeteringWindows.handler,
      functionName: 'final-metering-windows',
      clock: lambdaClock,
    });
    started.push({ close: () => sweep.stop() });
    const meteringSchedule = startLocalSchedule({
      ruleName: 'metering',
      everyMs: options.meteringEveryMs ?? 60_000,
      handler: (event) =>
        runMeteringStateMachine(
          { handler: metering.handler, functionName: 'metering', timeoutMs: METERING_TIMEOUT_MS, clock: lambdaClock },
          event,
        ),
      functionName: 'metering-state-machine',
      functionTimeoutMs: METERING_TIMEOUT_MS,
      clock: lambdaClock,
    });
    started.push({ close: () => meteringSchedule.stop() });
    const finalMeteringSchedule = startLocalSchedule({
      ruleName: 'final-metering',
      everyMs: options.finalMeteringEveryMs ?? 60_000,
      handler: finalMetering.handler,
      functionName: 'final-metering',
      functionTimeoutMs: FINAL_METERING_TIMEOUT_MS,
      clock: lambdaClock,
    });
    started.push({ close: () => finalMeteringSchedule.stop() });
    const lifecycleRepository = new LifecycleRepository(
      DynamoDBDocumentClient.from(dynamoDb.client, { marshallOptions: { removeUndefinedValues: true } }),
      tables.Subscribers,
      Number(finalMeteringGraceVariable(config).FINAL_METERING_GRACE_SECONDS),
    );

    // The webhook function's Lambda entry reads its secret from Secrets Manager; locally it is wired here instead.
    const webhookUrl = config.notifications.webhookUrl ?? webhookReceiver.url;
    const webhookQueue: LocalQueue = startLocalQueue({
      name: 'webhook',
      handler: createWebhookHandler({
        url: webhookUrl,
        secret: () => Promise.resolve(webhookSecret),
        // A deferral the queue refuses rejects, as the SDK's ChangeMessageVisibility call would.
        retryLater: (record, seconds) =>
          Promise.resolve().then(() => webhookQueue.defer(record.receiptHandle, seconds)),
        // As deployed: the receiver checks the timestamp against its own wall clock, not the simulator's.
        clock: systemClock,
        logger: new Logger({ serviceName: 'webhook' }),
      }),
      ...webhookConsumer,
      ...options.queueRetries,
    });
    started.push({ close: () => webhookQueue.stop() });
    const sqsEndpoint = await startSqsEndpoint({ queues: [lifecycleQueue, webhookQueue], port: options.sqsPort ?? 0 });
    started.push(sqsEndpoint);
    eventBus.addRule({ source: config.events.source }, (event) => webhookQueue.send(JSON.stringify(event)));
    // As the deployed rule does, every Subscriber Ending event starts final metering of that subscriber at once.
    eventBus.addRule({ source: config.events.source, detailType: SELLER_EVENT.ending }, (event) => {
      finalMetering
        .handler(event, createLambdaContext('final-metering', FINAL_METERING_TIMEOUT_MS, lambdaClock.now()))
        .catch((error: unknown) => console.error('final-metering: the run failed', error));
    });

    // The stream is read before the API answers anyone, so no registration can slip past it.
    const subscriberStream = await startStreamPoller({
      dynamoDb: dynamoDb.client,
      endpoint: dynamoDb.endpoint,
      tableName: tables.Subscribers,
      handler: sellerNotifier.handler,
      context: () => createLambdaContext('seller-notifier', 30_000, new Date()),
    });
    started.push({ close: () => subscriberStream.stop() });
    // Only now is the simulator told where to push: the queue is consumed and its writes reach the stream poller.
    if (options.marketplaceNotifications ?? true) {
      started.push(
        await startNotificationRelay({ control, eventSources: config.lifecycle.eventSources, queue: lifecycleQueue }),
      );
    }

    const gateway: RunningGateway = await startLocalGateway({
      port: options.apiPort ?? 0,
      ...(options.bodyEncoding === undefined ? {} : { base64Bodies: options.bodyEncoding }),
      // The deployed API's gateway responses (lib/gateway-responses.ts): its own failures are pages too.
      serverErrorPage: { html: TRY_AGAIN_PAGE, headers: tryAgainPageHeaders, retryAfterSeconds: RETRY_AFTER_SECONDS },
      // As deployed, the seller's routes take SigV4-signed calls only: signed with the local secret, dated by either time.
      iam: { secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey, clocks: [systemClock, lambdaClock] },
      routes: await Promise.all(
        apiRoutes.map(async (route) => ({
          method: 'ANY',
          path: route.path,
          handler: ((await import(/* @vite-ignore */ `../${route.entry}`)) as { handler: ProxyHandler }).handler,
          functionName: route.functionName,
          authorization: route.authorization,
        })),
      ),
    });
    started.push(gateway);
    const fulfillmentUrl = `${gateway.url}${fulfillmentRoute.path}`;
    await control.updateSettings({ fulfillmentUrl });

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
      meter: () => invokeScheduled('metering', metering.handler, METERING_TIMEOUT_MS),
      meterFinal: () => invokeScheduled('final-metering', finalMetering.handler, FINAL_METERING_TIMEOUT_MS),
      close: () => closeAll(started),
    };
  } catch (error) {
    await closeAll(started);
    throw error;
  }
}

async function closeAll(started: readonly { close(): Promise<void> }[]): Promise<void> {
  await Promise.allSettled([...started].reverse().map((part) => part.close()));
}

/** One invocation of a scheduled metering function now, as its schedule would invoke it. */
async function invokeScheduled(
  functionName: string,
  handler: ReturnType<typeof meteringFunction>,
  timeoutMs: number,
): Promise<MeteringRunSummary> {
  const summary = await handler(
    scheduledEvent(functionName, lambdaClock.now()),
    createLambdaContext(functionName, timeoutMs, lambdaClock.now()),
  );
  if (summary === undefined) throw new Error(`The ${functionName} function did not run`);
  return summary;
}
