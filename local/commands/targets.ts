/**
 * Where the operator commands work: the running `npm start` by default, found through the state file it writes
 * (`local/stack-state.ts`), whatever ports it was given. Variables name other places and win over the file:
 *
 * - an endpoint variable (`DYNAMODB_ENDPOINT`, `MARKETPLACE_ENDPOINT`, `SQS_ENDPOINT`, `API_URL`) gives a URL;
 * - a port variable (`DYNAMODB_PORT`, `SIMULATOR_PORT`, `SQS_PORT`, `PORT`) the local port, as `npm start` takes it;
 * - an endpoint variable set to the empty string means AWS itself, with the credentials and region of the usual AWS
 *   environment variables or profile; then the other services are AWS's too unless named, and the tables must be
 *   named (`SUBSCRIBERS_TABLE`, `USAGE_TABLE`: the stack's outputs). So the same commands serve a deployed stack:
 *
 * ```sh
 * npm run meter -- --dry-run                                    # the local stack
 * DYNAMODB_ENDPOINT= AWS_REGION=us-east-1 \
 *   SUBSCRIBERS_TABLE=<SubscribersTableName> USAGE_TABLE=<UsageTableName> npm run meter -- --dry-run
 * ```
 *
 * Every local address is tried before a command starts; one that does not answer stops it with a message naming the
 * address and the variable to set. Against the simulator the time is the simulator's (the local stack runs on it),
 * against AWS the machine's.
 */
import { ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { connect } from 'node:net';
import { REGION_NAME_PATTERN, TABLE_KEY } from '../../contracts/index.ts';
import { documentClient } from '../../lambdas/core/aws-clients.ts';
import type { Clock } from '../../lambdas/core/clock.ts';
import { systemClock } from '../../lambdas/core/clock.ts';
import { loadLocalConfig, portFromEnvironment } from '../config.ts';
import { SimulatorControl } from '../../simulator/control-client.ts';
import { lookUpStack, STACK_STATE_VARIABLE, type StackLookup, type StackState } from '../stack-state.ts';
import type { Config } from '../../lib/config.ts';
import { LocalStackError } from '../errors.ts';
import { messageOf } from '../../lambdas/core/errors.ts';
import { endSentence } from './command-line.ts';

/**
 * Where a command was to work cannot be used: no running stack answers where it looked, AWS mode lacks a name it needs
 * or has a region that is none, a table named is not there or cannot be read.
 */
class TargetNotFoundError extends LocalStackError {
  override readonly name = 'TargetNotFoundError';
}

export interface CommandTargets {
  readonly config: Config;
  /** Undefined: AWS's own endpoint. */
  readonly dynamoDbEndpoint?: string;
  readonly marketplaceEndpoint?: string;
  readonly subscribersTable: string;
  readonly usageTable: string;
  /** The simulator's clock when Marketplace is the simulator, else the machine's. */
  readonly clock: Clock;
}

interface Service {
  readonly label: string;
  readonly endpointVariable: string;
  readonly portVariable: string;
  /** `npm start`'s own default port, when it has one. */
  readonly defaultPort?: number;
  /** Whether the empty endpoint variable (AWS) makes sense for it. */
  readonly inAws: boolean;
  readonly fromState: (state: StackState) => string;
  readonly urlOf: (port: number) => string;
}

const local = (port: number) => `http://127.0.0.1:${port}`;

const SERVICES = {
  dynamoDb: {
    label: 'DynamoDB',
    endpointVariable: 'DYNAMODB_ENDPOINT',
    portVariable: 'DYNAMODB_PORT',
    defaultPort: 8000,
    inAws: true,
    fromState: (state) => state.dynamoDbEndpoint,
    urlOf: local,
  },
  marketplace: {
    label: 'the Marketplace simulator',
    endpointVariable: 'MARKETPLACE_ENDPOINT',
    portVariable: 'SIMULATOR_PORT',
    defaultPort: 4010,
    inAws: true,
    fromState: (state) => state.marketplaceEndpoint,
    urlOf: local,
  },
  sqs: {
    label: "the local queues' SQS endpoint",
    endpointVariable: 'SQS_ENDPOINT',
    portVariable: 'SQS_PORT',
    inAws: true,
    fromState: (state) => state.sqsEndpoint,
    urlOf: local,
  },
  api: {
    label: 'the local API',
    endpointVariable: 'API_URL',
    portVariable: 'PORT',
    defaultPort: 3000,
    inAws: false,
    fromState: (state) => state.apiUrl,
    urlOf: (port) => `${local(port)}/local`,
  },
} satisfies Record<string, Service>;

/** Whether any endpoint variable says "AWS" (is set to the empty string). */
export function awsMode(): boolean {
  return Object.values(SERVICES).some((service) => service.inAws && process.env[service.endpointVariable] === '');
}

let stackLookup: Promise<StackLookup> | undefined;
const runningStack = () => (stackLookup ??= lookUpStack());

/**
 * The URL of a service, or `undefined` for AWS's own endpoint; a local one has answered a connection.
 *
 * @throws {TargetNotFoundError} when nothing answers where it looked
 */
export async function endpointOf(name: 'dynamoDb' | 'marketplace' | 'sqs'): Promise<string | undefined> {
  const service: Service = SERVICES[name];
  const variable = process.env[service.endpointVariable];
  if (variable === '' || (variable === undefined && awsMode())) {
    mustBeRegionName(process.env.AWS_REGION);
    return undefined;
  }
  return localEndpointOf(service);
}

/**
 * A region name that is not one (`us-east1`) would only surface as a host name that does not resolve
 * (`dynamodb.us-east1.amazonaws.com`): named here instead, with the variable it came from.
 */
function mustBeRegionName(region: string | undefined): void {
  if (region === undefined || region === '' || REGION_NAME_PATTERN.test(region)) return;
  throw new TargetNotFoundError(`AWS_REGION is ${JSON.stringify(region)}, which is not a region name (like us-east-1)`);
}

/** The running stack's API stage (`http://127.0.0.1:3000/local`), which has answered a connection. */
export function localApiUrl(): Promise<string> {
  return localEndpointOf(SERVICES.api);
}

async function localEndpointOf(service: Service): Promise<string> {
  const variable = process.env[service.endpointVariable];
  if (variable) {
    await mustAnswer(variable, service, `${service.endpointVariable}=${variable} names it`);
    return variable;
  }
  if (process.env[service.portVariable]) {
    const url = service.urlOf(portFromEnvironment(service.portVariable, 0));
    await mustAnswer(url, service, `${service.portVariable}=${process.env[service.portVariable]} names it`);
    return url;
  }
  const stack = await runningStack();
  if (stack.found) {
    const url = service.fromState(stack.state);
    await mustAnswer(url, service, `the npm start recorded in ${stack.path} (pid ${stack.state.pid}) gave it`);
    return url;
  }
  if (service.defaultPort === undefined) throw new TargetNotFoundError(`${stack.reason}. ${remedy(service)}`);
  const url = service.urlOf(service.defaultPort);
  await mustAnswer(url, service, `${stack.reason}, so the default address was tried`);
  return url;
}

export async function commandTargets(): Promise<CommandTargets> {
  const dynamoDbEndpoint = await endpointOf('dynamoDb');
  const marketplaceEndpoint = await endpointOf('marketplace');
  if (dynamoDbEndpoint !== undefined || marketplaceEndpoint !== undefined) useLocalCredentials();
  return {
    config: loadLocalConfig(),
    ...(dynamoDbEndpoint === undefined ? {} : { dynamoDbEndpoint }),
    ...(marketplaceEndpoint === undefined ? {} : { marketplaceEndpoint }),
    subscribersTable: await tableName('SUBSCRIBERS_TABLE', 'SubscribersTableName', dynamoDbEndpoint, 'subscribers'),
    usageTable: await tableName('USAGE_TABLE', 'UsageTableName', dynamoDbEndpoint, 'usage'),
    clock: marketplaceEndpoint === undefined ? systemClock : await simulatorClock(marketplaceEndpoint),
  };
}

/** Any credentials sign requests to local endpoints; real ones must never be sent there. */
export function useLocalCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  process.env.AWS_REGION ??= 'us-east-1';
}

async function tableName(
  variable: string,
  output: string,
  dynamoDbEndpoint: string | undefined,
  kind: keyof StackState['tables'],
): Promise<string> {
  const named = process.env[variable];
  if (named) {
    await mustExist(named, { variable, output, named: true }, dynamoDbEndpoint);
    return named;
  }
  if (dynamoDbEndpoint === undefined) {
    throw new TargetNotFoundError(
      `set ${variable} to the stack's ${output} output: in AWS the table names are the stack's`,
    );
  }
  const stack = await runningStack();
  const table =
    stack.found && dynamoDbEndpoint === stack.state.dynamoDbEndpoint
      ? stack.state.tables[kind]
      : kind === 'subscribers'
        ? 'Subscribers'
        : 'Usage';
  await mustExist(table, { variable, output, named: false }, dynamoDbEndpoint);
  return table;
}

/**
 * A table that is not there, or an endpoint that is no DynamoDB, stops the command at once, naming the table, the
 * address and what to set, rather than in DynamoDB's words halfway through, once per item. A table named by hand
 * (`named`) is the likeliest slip against AWS: the names are copied from the stack's outputs.
 */
async function mustExist(
  table: string,
  { variable, output, named }: { variable: string; output: string; named: boolean },
  dynamoDbEndpoint: string | undefined,
): Promise<void> {
  const client = documentClient(dynamoDbEndpoint);
  try {
    const probe = { [TABLE_KEY.partitionKey]: 'table-check', [TABLE_KEY.sortKey]: 'table-check' };
    await client.send(new GetCommand({ TableName: table, Key: probe }));
  } catch (error) {
    const where = dynamoDbEndpoint ?? "AWS's DynamoDB, in the credentials' account and region";
    if (!(error instanceof ResourceNotFoundException)) {
      // In DynamoDB's words alone ("Unknown operation", "Missing Authentication Token"), nothing says where it failed.
      const isItDynamoDb = dynamoDbEndpoint === undefined ? '' : ` Is it DynamoDB? ${remedy(SERVICES.dynamoDb)}`;
      const which = named ? ` (${variable})` : '';
      throw new TargetNotFoundError(
        `cannot read the table ${table}${which} at ${where}: ${endSentence(messageOf(error))}${isItDynamoDb}`,
        { cause: error },
      );
    }
    if (!named) {
      throw new TargetNotFoundError(
        `the local stack's table ${table} does not exist at ${where}: is it the DynamoDB Local of npm start? ` +
          remedy(SERVICES.dynamoDb),
        { cause: error },
      );
    }
    throw new TargetNotFoundError(
      `${variable} names the table ${table}, which does not exist at ${where}: set it to the stack's ${output} ` +
        "output (aws cloudformation describe-stacks --stack-name SaasMarketplace --query 'Stacks[0].Outputs')",
      { cause: error },
    );
  } finally {
    client.destroy();
  }
}

function remedy(service: Service): string {
  const aws = service.inAws ? ` (or ${service.endpointVariable}= for AWS)` : '';
  return (
    `Start the local stack with npm start, or set ${service.endpointVariable} to the URL of ${service.label}${aws}; ` +
    `${STACK_STATE_VARIABLE} names another state file`
  );
}

async function mustAnswer(url: string, service: Service, why: string): Promise<void> {
  const problem = await connectionProblem(url);
  if (problem === undefined) return;
  throw new TargetNotFoundError(
    `nothing answers at ${url} for ${service.label} (${problem}; ${why}). ${remedy(service)}`,
  );
}

/** Why a TCP connection to the URL's host and port fails, or `undefined` when it opens. */
function connectionProblem(url: string): Promise<string | undefined> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.resolve('not a URL');
  }
  const port = Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80));
  return new Promise((resolve) => {
    const socket = connect({ host: parsed.hostname.replace(/^\[|\]$/g, ''), port });
    // A refused connection fails at once; the limit is for a host that never answers. It is generous because the
    // command, or the stack it looks for, may be stalled for seconds on a busy machine while the stack is there.
    socket.setTimeout(15_000, () => {
      socket.destroy();
      resolve('no answer within 15 s');
    });
    socket.once('connect', () => {
      socket.end();
      resolve(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** The simulator's time, read once and then carried forward with real time as its clock does (unless frozen). */
/**
 * The simulator's clock, read through its control API: a URL where something else answers (the API, DynamoDB Local)
 * is named as not the simulator, rather than in that server's words.
 */
async function simulatorClock(simulatorUrl: string): Promise<Clock> {
  let clock: { now: string; running: boolean };
  try {
    clock = await new SimulatorControl(simulatorUrl).clock();
  } catch (error) {
    throw new TargetNotFoundError(
      `cannot read the clock of ${SERVICES.marketplace.label} at ${simulatorUrl} (${messageOf(error)}): is it the ` +
        `simulator? ${remedy(SERVICES.marketplace)}`,
      { cause: error },
    );
  }
  const { now, running } = clock;
  const offsetMs = new Date(now).getTime() - Date.now();
  return { now: () => (running ? new Date(Date.now() + offsetMs) : new Date(now)) };
}
