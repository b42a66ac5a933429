/**
 * The backend on one machine: the very Lambda handler modules the CDK stack deploys, run behind the local API gateway
 * (API Gateway proxy events), the local DynamoDB stream poller (stream events) and the local event bus, against
 * DynamoDB Local and the Marketplace simulator. `npm start` and the integration tests both build it here.
 *
 * The handlers read their configuration from the environment at import, exactly as in Lambda, so one process holds
 * one local stack: its environment is set before the handler modules are first imported.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { apiRoutes, fulfillmentRoute } from '../lib/api-routes.ts';
import type { Config } from '../lib/config.ts';
import { RETRY_AFTER_SECONDS, TRY_AGAIN_PAGE, tryAgainPageHeaders } from '../lib/try-again-page.ts';
import { registrationVariables } from '../lib/function-environment.ts';
import { configureSimulator } from './config.ts';
import { createTables, type TableNames } from './dynamodb/tables.ts';
import { startLocalEventBus, type LocalEventBus } from './event-bus.ts';
import { createLambdaContext } from './gateway/lambda-context.ts';
import { startLocalGateway, type BodyEncoding, type ProxyHandler, type RunningGateway } from './gateway/server.ts';
import { SimulatorControl } from './simulator/control-client.ts';
import { startSimulator, type RunningSimulator } from './simulator/server.ts';
import { startStreamPoller, type StreamPoller } from './stream-poller.ts';

export interface LocalStackOptions {
  readonly config: Config;
  /** A running DynamoDB Local, and a client for it. */
  readonly dynamoDb: { readonly endpoint: string; readonly client: DynamoDBClient };
  /** Put in front of every table name, so that several stacks can share one DynamoDB Local. */
  readonly tablePrefix?: string;
  readonly apiPort?: number;
  readonly simulatorPort?: number;
  readonly eventBusPort?: number;
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
  close(): Promise<void>;
}

/** The name of the seller's event bus locally (in AWS the stack names it). */
const LOCAL_BUS_NAME = 'saas-marketplace-local';

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { config, dynamoDb } = options;
  const started: { close(): Promise<void> }[] = [];
  try {
    const tables = await createTables(dynamoDb.client, { prefix: options.tablePrefix ?? '' });
    const simulator = await startSimulator({ port: options.simulatorPort ?? 0 });
    started.push(simulator);
    const control = new SimulatorControl(simulator.url);
    await configureSimulator(control, config);
    const eventBus = await startLocalEventBus({ busName: LOCAL_BUS_NAME, port: options.eventBusPort ?? 0 });
    started.push(eventBus);

    Object.assign(process.env, {
      // Any credentials sign requests to the local endpoints; real ones must never be sent there.
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_REGION: 'us-east-1',
      POWERTOOLS_LOG_LEVEL: options.logLevel ?? 'INFO',
      SUBSCRIBERS_TABLE: tables.Subscribers,
      DYNAMODB_ENDPOINT: dynamoDb.endpoint,
      MARKETPLACE_REGION: config.marketplaceRegion,
      MARKETPLACE_ENDPOINT: simulator.url,
      EVENT_BUS_NAME: eventBus.busName,
      EVENT_SOURCE: config.events.source,
      EVENTS_ENDPOINT: eventBus.url,
      ...registrationVariables(config),
    });
    const sellerNotifier = await import('../lambdas/notifications/seller-notifier.ts');

    // The stream is read before the API answers anyone, so no registration can slip past it.
    const subscriberStream = await startStreamPoller({
      dynamoDb: dynamoDb.client,
      endpoint: dynamoDb.endpoint,
      tableName: tables.Subscribers,
      handler: sellerNotifier.handler,
      context: () => createLambdaContext('seller-notifier', 30_000, new Date()),
    });
    started.push({ close: () => subscriberStream.stop() });

    const gateway: RunningGateway = await startLocalGateway({
      port: options.apiPort ?? 0,
      ...(options.bodyEncoding === undefined ? {} : { base64Bodies: options.bodyEncoding }),
      // The deployed API's gateway responses (lib/gateway-responses.ts): its own failures are pages too.
      serverErrorPage: { html: TRY_AGAIN_PAGE, headers: tryAgainPageHeaders, retryAfterSeconds: RETRY_AFTER_SECONDS },
      routes: await Promise.all(
        apiRoutes.map(async (route) => ({
          method: 'ANY',
          path: route.path,
          handler: ((await import(/* @vite-ignore */ `../${route.entry}`)) as { handler: ProxyHandler }).handler,
          functionName: route.functionName,
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
