/**
 * `npm start`: the whole backend on this machine, with no AWS account. Starts AWS's DynamoDB Local with the project's
 * tables and the Marketplace simulator with the products of `cdk.json`, prints where they are, and stops both on
 * Ctrl-C (SIGINT) or SIGTERM. DynamoDB Local runs under a watchdog, so even a killed `npm start` leaves no java behind.
 *
 * Environment: DYNAMODB_PORT (default 8000; 0 for any free port), DYNAMODB_DATA_DIR (default: in memory),
 * SIMULATOR_PORT (default 4010; 0 for any free port).
 */
import './sdk-environment.ts';
import { configureSimulator, loadLocalConfig, portFromEnvironment } from './config.ts';
import { createDynamoDbClient, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb/launcher.ts';
import { createTables } from './dynamodb/tables.ts';
import { SimulatorControl } from './simulator/control-client.ts';
import { startSimulator, type RunningSimulator } from './simulator/server.ts';

const running: { dynamoDb?: DynamoDbLocal; simulator?: RunningSimulator } = {};

async function stopAll(): Promise<void> {
  await Promise.allSettled([running.simulator?.close(), running.dynamoDb?.stop()]);
}

function exitAfterStopping(code: number): void {
  void stopAll().finally(() => process.exit(code));
}

process.once('SIGINT', () => exitAfterStopping(0));
process.once('SIGTERM', () => exitAfterStopping(0));
// If whatever started us (npm) is killed outright, we are re-parented: stop rather than run on unowned.
const parentAtStart = process.ppid;
setInterval(() => {
  if (process.ppid !== parentAtStart) exitAfterStopping(0);
}, 1000).unref();

try {
  const config = loadLocalConfig();
  const dynamoDbPort = portFromEnvironment('DYNAMODB_PORT', 8000);
  const dataDir = process.env.DYNAMODB_DATA_DIR || undefined;
  running.dynamoDb = await startDynamoDbLocal({
    ...(dynamoDbPort === 0 ? {} : { port: dynamoDbPort }),
    ...(dataDir === undefined ? {} : { dataDir }),
  });
  const dynamoDbClient = createDynamoDbClient(running.dynamoDb.endpoint);
  const tables = await createTables(dynamoDbClient);
  dynamoDbClient.destroy();

  running.simulator = await startSimulator({ port: portFromEnvironment('SIMULATOR_PORT', 4010) });
  await configureSimulator(new SimulatorControl(running.simulator.url), config);

  console.log(`Local stack ready (Ctrl-C stops everything)
  DynamoDB Local          ${running.dynamoDb.endpoint}  ${dataDir === undefined ? 'in memory' : `data in ${dataDir}`}, tables ${Object.values(tables).join(', ')}
  Marketplace simulator   ${running.simulator.url}  control API ${running.simulator.url}/control
  Products                ${config.products.map((product) => `${product.code} (${product.identityModel})`).join(', ')}`);
} catch (error) {
  console.error(`npm start: ${error instanceof Error ? error.message : String(error)}`);
  exitAfterStopping(1);
}
