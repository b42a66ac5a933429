/**
 * Latency of a buyer's POST to the fulfillment URL through the local gateway (ResolveCustomer against the simulator,
 * the subscriber upsert and the session write in DynamoDB Local, the 303), against the same request answered by a
 * bare handler that does nothing behind the same gateway. The ratio is the figure: what the fulfillment work costs
 * over the plumbing.
 *
 *   npx tsx bench/fulfillment-latency.ts [requests=1000]
 */
import '../local/sdk-environment.ts';
import { loadLocalConfig } from '../local/config.ts';
import { createDynamoDbClient, startDynamoDbLocal } from '../local/dynamodb/launcher.ts';
import { startLocalGateway } from '../local/gateway/server.ts';
import { startLocalStack } from '../local/local-stack.ts';
import { SimulatorControl } from '../simulator/control-client.ts';
import { percentile, summarize } from './stats.ts';
import { positiveIntegerArgument } from './arguments.ts';

const requests = positiveIntegerArgument('requests', 1000);
const warmUp = 50;

const dynamoDb = await startDynamoDbLocal();
const client = createDynamoDbClient(dynamoDb.endpoint);
const stack = await startLocalStack({
  config: loadLocalConfig(),
  dynamoDb: { endpoint: dynamoDb.endpoint, client },
  logLevel: 'SILENT',
});
const bare = await startLocalGateway({
  routes: [
    {
      method: 'ANY',
      path: '/fulfillment',
      handler: () => Promise.resolve({ statusCode: 303, headers: { location: 'register' }, body: '' }),
    },
  ],
});

try {
  const control = new SimulatorControl(stack.simulator.url);
  const tokens: string[] = [];
  for (let index = 0; index < warmUp + requests; index++) {
    tokens.push((await control.createLicense({ productCode: 'analytics-pro-example' })).registrationToken);
  }

  /** Posts each token once, sequentially, and answers the latencies of the measured ones. */
  const measure = async (url: string): Promise<number[]> => {
    const latencies: number[] = [];
    for (const [index, token] of tokens.entries()) {
      const started = performance.now();
      const response = await fetch(url, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ 'x-amzn-marketplace-token': token }).toString(),
      });
      await response.arrayBuffer();
      if (response.status !== 303) throw new Error(`${url} answered ${response.status}`);
      if (index >= warmUp) latencies.push(performance.now() - started);
    }
    return latencies;
  };

  const baseline = await measure(`${bare.url}/fulfillment`);
  const fulfillment = await measure(stack.fulfillmentUrl);
  const line = (label: string, samples: number[]) => {
    const summary = summarize(samples);
    return `  ${label.padEnd(26)} p50 ${summary.p50.toFixed(2)} ms  p90 ${percentile(samples, 90).toFixed(2)} ms  p99 ${summary.p99.toFixed(2)} ms`;
  };
  console.log(`Fulfillment POST through the local gateway, ${requests} sequential requests (after ${warmUp} warm-up)`);
  console.log(line('bare handler (baseline)', baseline));
  console.log(line('fulfillment handler', fulfillment));
  console.log(
    `  ratio fulfillment / bare: p50 ${(percentile(fulfillment, 50) / percentile(baseline, 50)).toFixed(1)}x, ` +
      `p99 ${(percentile(fulfillment, 99) / percentile(baseline, 99)).toFixed(1)}x`,
  );
} finally {
  await bare.close();
  await stack.close();
  client.destroy();
  await dynamoDb.stop();
}
