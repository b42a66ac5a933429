/**
 * `npm start`: the whole backend on this machine, with no AWS account: AWS's DynamoDB Local with the project's tables,
 * the Marketplace simulator with the products of `cdk.json` (and its buyer page), and the functions behind the local
 * API gateway, stream poller, queues, schedule and event bus, with a local webhook receiver (see `local-stack.ts`).
 * Prints where everything is and stops it all on Ctrl-C (SIGINT) or SIGTERM. DynamoDB Local runs under a watchdog, so
 * even a killed `npm start` leaves no java behind.
 *
 * Environment (a port of 0 picks a free one): PORT (the API, default 3000), SIMULATOR_PORT (default 4010),
 * EVENT_BUS_PORT (default 4020), WEBHOOK_RECEIVER_PORT (default 4030), DYNAMODB_PORT (default 8000),
 * DYNAMODB_DATA_DIR (default: in memory), WEBHOOK_URL (your app's webhook, in place of `notifications.webhookUrl`;
 * http on this machine too), WEBHOOK_SECRET (what webhook calls are signed with; default: made up at start), METERING_INTERVAL_SECONDS (how often the metering run goes, default 60),
 * FINAL_METERING_INTERVAL_SECONDS (how often final metering goes, default 60), SQS_PORT (the queues' SQS endpoint,
 * default a free port), LOCAL_STACK_STATE (the state file the `npm run` commands find the stack by; see
 * `stack-state.ts`), LOG_FORMAT (`summary`, the default: a line per thing that happened; `json`: the functions' own
 * JSON log lines, as CloudWatch has them; see `log-format.ts`).
 */
import './sdk-environment.ts';
import { constants } from 'node:os';
import {
  apiRegionOf,
  loadLocalConfig,
  portFromEnvironment,
  webhookUrlFromEnvironment,
  withLocalAppUrls,
} from './config.ts';
import {
  createDynamoDbClient,
  DynamoDbLocalStartError,
  startDynamoDbLocal,
  type DynamoDbLocal,
} from './dynamodb/launcher.ts';
import { namesANonDirectory } from '../simulator/directory-lock.ts';
import { SimulatorDataDirError } from '../simulator/state-file.ts';
import { firstStartReady, lockDataDir, prepareDataDir } from './data-dir.ts';
import { startLocalStack, type LocalStack } from './local-stack.ts';
import { logFormatFromEnvironment, summarizeFunctionLogs } from './log-format.ts';
import { forgetStackState, recordStackState, stackStatePath } from './stack-state.ts';
import { LocalStackError } from './errors.ts';
import { PortInUseError, portInUseMessage } from './http/listen.ts';

const running: { dynamoDb?: DynamoDbLocal; stack?: LocalStack; releaseDataDir?: () => void } = {};
/** The ports asked for, by the variable that asked: what a port in use is told by. */
let portSettings: Parameters<typeof portInUseMessage>[1] = {};

async function stopAll(): Promise<void> {
  await forgetStackState(process.pid);
  await running.stack?.close();
  await running.dynamoDb?.stop();
  running.releaseDataDir?.();
}

/** How long stopping may take before the process exits anyway. */
const STOP_TIMEOUT_MS = 15_000;
let stopping = false;

/**
 * Stops everything once, then exits. Ctrl-C reaches us twice (from the terminal, and forwarded by npm): the second
 * signal must not kill the process halfway through stopping, which would leave the state file behind.
 */
function exitAfterStopping(code: number): void {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(code), STOP_TIMEOUT_MS);
  void stopAll().finally(() => process.exit(code));
}

process.on('SIGINT', () => exitAfterStopping(0));
process.on('SIGTERM', () => exitAfterStopping(0));
// If whatever started us (npm) is killed outright, we are re-parented: stop rather than run on unowned.
const parentAtStart = process.ppid;
setInterval(() => {
  if (process.ppid !== parentAtStart) exitAfterStopping(0);
}, 1000).unref();

function intervalSeconds(variable: string): number {
  const text = process.env[variable];
  if (text === undefined || text === '') return 60;
  const seconds = Number(text);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) {
    throw new LocalStackError(`${variable} must be a whole number of seconds from 1 to 3600, not "${text}"`);
  }
  return seconds;
}

/** `DYNAMODB_DATA_DIR`: a folder (created when missing), never a file. */
function dataDirFromEnvironment(): string | undefined {
  const dataDir = process.env.DYNAMODB_DATA_DIR || undefined;
  if (dataDir !== undefined && namesANonDirectory(dataDir)) {
    throw new LocalStackError(`DYNAMODB_DATA_DIR must name a folder (or where to make one), not the file ${dataDir}`);
  }
  return dataDir;
}

try {
  const cdkJsonConfig = loadLocalConfig();
  const webhookUrl = webhookUrlFromEnvironment() ?? cdkJsonConfig.notifications.webhookUrl;
  const config = { ...cdkJsonConfig, notifications: { ...cdkJsonConfig.notifications, webhookUrl } };
  const logFormat = logFormatFromEnvironment();
  if (logFormat === 'summary') summarizeFunctionLogs();
  const dynamoDbPort = portFromEnvironment('DYNAMODB_PORT', 8000);
  const ports = {
    PORT: { port: portFromEnvironment('PORT', 3000), what: 'the API' },
    SIMULATOR_PORT: { port: portFromEnvironment('SIMULATOR_PORT', 4010), what: 'the Marketplace simulator' },
    EVENT_BUS_PORT: { port: portFromEnvironment('EVENT_BUS_PORT', 4020), what: 'the event bus' },
    WEBHOOK_RECEIVER_PORT: { port: portFromEnvironment('WEBHOOK_RECEIVER_PORT', 4030), what: 'the webhook receiver' },
    SQS_PORT: { port: portFromEnvironment('SQS_PORT', 0), what: "the queues' SQS API" },
  };
  portSettings = { ...ports, DYNAMODB_PORT: { port: dynamoDbPort, what: 'DynamoDB Local' } };
  const dataDir = dataDirFromEnvironment();
  let firstStart = false;
  if (dataDir !== undefined) {
    running.releaseDataDir = lockDataDir(dataDir);
    ({ firstStart } = prepareDataDir(dataDir));
  }
  const webhookSecret = process.env.WEBHOOK_SECRET || undefined;
  running.dynamoDb = await startDynamoDbLocal({
    ...(dynamoDbPort === 0 ? {} : { port: dynamoDbPort }),
    ...(dataDir === undefined ? {} : { dataDir }),
  });
  const stack = await startLocalStack({
    config,
    dynamoDb: { endpoint: running.dynamoDb.endpoint, client: createDynamoDbClient(running.dynamoDb.endpoint) },
    apiPort: ports.PORT.port,
    simulatorPort: ports.SIMULATOR_PORT.port,
    eventBusPort: ports.EVENT_BUS_PORT.port,
    webhookReceiverPort: ports.WEBHOOK_RECEIVER_PORT.port,
    sqsPort: ports.SQS_PORT.port,
    ...(dataDir === undefined ? {} : { stateDir: dataDir }),
    ...(webhookSecret === undefined ? {} : { webhookSecret }),
    catchUpClockJumps: true,
    meteringEveryMs: intervalSeconds('METERING_INTERVAL_SECONDS') * 1000,
    finalMeteringEveryMs: intervalSeconds('FINAL_METERING_INTERVAL_SECONDS') * 1000,
  });
  running.stack = stack;
  void running.dynamoDb.exited.then((exit) => {
    if (stopping) return;
    // Every function and poller would fail on, a line a moment each: one message, and the stack stops.
    // The watchdog reports a command a signal ended as 128 + the signal's number, as a shell does.
    const signal =
      exit.signal ??
      Object.entries(constants.signals).find(([, number]) => exit.code !== null && exit.code === 128 + number)?.[0];
    const how = signal === undefined ? `exit code ${exit.code}` : `killed by ${signal}`;
    const restart = dataDir === undefined ? 'its tables were in memory' : `the data in ${dataDir} is kept`;
    console.error(`npm start: DynamoDB Local exited (${how}); stopping. Run npm start again: ${restart}.`);
    exitAfterStopping(1);
  });
  if (dataDir !== undefined && firstStart) {
    await stack.simulator.simulator.saveState();
    firstStartReady(dataDir);
  }
  const stateOwner = await recordStackState({
    pid: process.pid,
    startedAt: new Date().toISOString(),
    apiUrl: stack.apiUrl,
    dynamoDbEndpoint: running.dynamoDb.endpoint,
    marketplaceEndpoint: stack.simulator.url,
    sqsEndpoint: stack.sqsEndpoint,
    eventBusUrl: stack.eventBus.url,
    webhookReceiverUrl: new URL(stack.webhookReceiver.url).origin,
    tables: { subscribers: stack.tables.Subscribers, usage: stack.tables.Usage },
  });
  const simulatorUrl = stack.simulator.url;
  const { webhookReceiver } = stack;
  const webhookCalls =
    stack.webhookUrl === webhookReceiver.url
      ? `${webhookReceiver.url}  calls received at ${webhookReceiver.eventsUrl}`
      : `${stack.webhookUrl}  (${process.env.WEBHOOK_URL ? 'WEBHOOK_URL' : 'notifications.webhookUrl'}, signed with ${webhookSecret === undefined ? 'a secret made up at start: set WEBHOOK_SECRET to choose it' : 'WEBHOOK_SECRET'}; the local receiver ${webhookReceiver.url} gets nothing)`;
  const { registration } = config;
  const servedRegistration = withLocalAppUrls(config, webhookReceiver.appUrl).registration;
  const standInFor = [registration.appUrl, registration.freeTrialLandingUrl].filter(
    (url, index) =>
      url !== undefined && url !== [servedRegistration.appUrl, servedRegistration.freeTrialLandingUrl][index],
  );

  console.log(`Local stack ready (Ctrl-C stops everything)

  Subscribe as a buyer    ${simulatorUrl}/buyer
  Fulfillment URL         ${stack.fulfillmentUrl}
  Seller events           ${stack.eventBus.url}/events
  Webhook                 ${webhookCalls}
  Access check            ${stack.apiUrl}/subscribers/<url-encoded subscriber id>  (GET; ids are in the webhook calls)
  Signing                 the access check and usage take SigV4-signed calls only, as IAM makes them in AWS: service
                          execute-api in ${apiRegionOf(config)}, any access key id, secret access key "local"; unsigned ones get 403
  Marketplace simulator   ${simulatorUrl}  control API ${simulatorUrl}/control
  DynamoDB Local          ${running.dynamoDb.endpoint}  ${dataDir === undefined ? 'in memory' : `data in ${dataDir}`}, tables ${Object.values(stack.tables).join(', ')}
  Usage (POST)            ${stack.apiUrl}/usage  metered every ${intervalSeconds('METERING_INTERVAL_SECONDS')} s by the simulator's clock; npm run sample-usage, npm run meter, npm run report
  Queues (SQS API)        ${stack.sqsEndpoint}  npm run redrive -- --list
${standInFor.length === 0 ? '' : `  Your app (stand-in)     ${webhookReceiver.appUrl}  where ${standInFor.join(' and ')} lead locally\n`}  Logs                    ${logFormat === 'summary' ? "a line per thing that happened (LOG_FORMAT=json: the functions' JSON logs)" : "the functions' JSON logs (LOG_FORMAT=summary: a line per thing that happened)"}
  Products                ${config.products.map((product) => `${product.code} (${product.identityModel})`).join(', ')}`);
  if (stateOwner !== undefined) {
    console.warn(
      `Another npm start (pid ${stateOwner}) is recorded in ${stackStatePath()}: the npm run commands reach that one. ` +
        'To reach this one, start it and run them with LOCAL_STACK_STATE naming another file.',
    );
  }
} catch (error) {
  const message =
    error instanceof PortInUseError
      ? portInUseMessage(error, portSettings)
      : error instanceof DynamoDbLocalStartError && error.failure === 'port-in-use'
        ? dynamoDbPortInUseMessage(error)
        : error instanceof SimulatorDataDirError
          ? `DYNAMODB_DATA_DIR: ${error.message}`
          : error instanceof Error
            ? error.message
            : String(error);
  console.error(`npm start: ${message}`);
  exitAfterStopping(1);
}

/** DynamoDB Local's port in use, told like the others': the variable that chose it, and how to change it. */
function dynamoDbPortInUseMessage(error: DynamoDbLocalStartError): string {
  const setting = portSettings.DYNAMODB_PORT;
  // Port 0 lost its race for a free port a few times over: nothing to change.
  if (setting === undefined || setting.port === 0) return error.message;
  const { port } = setting;
  return `Cannot start DynamoDB Local: ${portInUseMessage({ message: `port ${port} is already in use`, port }, { DYNAMODB_PORT: setting })}`;
}
