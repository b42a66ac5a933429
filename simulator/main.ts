/**
 * `npm run simulator`: the Marketplace simulator alone, with the products of `cdk.json`, for a seller testing their own
 * integration. Listens on 127.0.0.1:4010 unless `SIMULATOR_PORT` says otherwise; keeps its state in
 * `SIMULATOR_DATA_DIR` across restarts when that is set, in memory otherwise.
 */
import '../local/sdk-environment.ts';
import { configureSimulator, loadLocalConfig, portFromEnvironment } from '../local/config.ts';
import { PortInUseError, portInUseMessage } from '../local/http/listen.ts';
import { SimulatorControl } from './control-client.ts';
import { startSimulator } from './server.ts';
import { SimulatorDataDirError } from './state-file.ts';

const DEFAULT_PORT = 4010;

let port = DEFAULT_PORT;
try {
  const config = loadLocalConfig();
  const dataDir = process.env.SIMULATOR_DATA_DIR || undefined;
  port = portFromEnvironment('SIMULATOR_PORT', DEFAULT_PORT);
  const simulator = await startSimulator({
    port,
    ...(dataDir === undefined ? {} : { dataDir }),
  });
  const control = new SimulatorControl(simulator.url);
  await configureSimulator(control, config);
  // Those of cdk.json, and those a data directory's state had besides.
  const { products } = await control.products();
  console.log(`AWS Marketplace simulator listening on ${simulator.url}

Point an AWS SDK v3 client at it (any credentials; the region must be us-east-1 unless enabled in the settings):
  new MarketplaceMeteringClient({
    endpoint: '${simulator.url}',
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  (MarketplaceEntitlementServiceClient takes the same settings.)

Buyer page:  ${simulator.url}/buyer  (subscribe as a buyer; set the fulfillmentUrl setting to go on to your site)
Control API: ${simulator.url}/control  (products, licenses, clock, faults, billed records; see docs/simulator.md)
  curl -s -X POST ${simulator.url}/control/licenses -H 'content-type: application/json' -d '{"productCode":"${config.products[0]?.code ?? 'my-product'}"}'

Products: ${products.map((product) => `${product.code} (${product.identityModel} identity)`).join(', ')}
State:    ${dataDir === undefined ? 'in memory (set SIMULATOR_DATA_DIR to keep it across restarts)' : `kept in ${dataDir}`}
Press Ctrl-C to stop.`);

  const stop = () => {
    void simulator.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  const message =
    error instanceof PortInUseError
      ? portInUseMessage(error, { SIMULATOR_PORT: { port, what: 'the simulator' } })
      : error instanceof SimulatorDataDirError
        ? `SIMULATOR_DATA_DIR: ${error.message}`
        : error instanceof Error
          ? error.message
          : String(error);
  console.error(`simulator: ${message}`);
  process.exit(1);
}
