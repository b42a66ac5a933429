/**
 * `npm run sample-usage`: what a seller's app would send, for trying metering out. For every active subscriber of the
 * running `npm start` it posts a few random usage events of each metered dimension of its product, timed now by the
 * simulator's clock, to `POST /usage` on the local API, and prints the answers.
 *
 *   npm run sample-usage                   every active subscriber
 *   npm run sample-usage -- --events 5     five events per dimension (default 3)
 */
import '../sdk-environment.ts';
import { randomInt } from 'node:crypto';
import { documentClient } from '../../lambdas/core/aws-clients.ts';
import { fetchSigned } from '../http/signed-fetch.ts';
import { subscriberItems } from './subscriber-items.ts';
import { awsMode, commandTargets, localApiUrl } from './targets.ts';
import { ArgumentError, CommandFailureError, parseCommandLine, runCommand } from './command-line.ts';

const USAGE = 'npm run sample-usage -- [--events <1-10>]';

runCommand('sample-usage', USAGE, async (args) => {
  const { values } = parseCommandLine(args, { events: { type: 'string', default: '3' } });
  const eventsPerDimension = Number(values.events);
  if (!Number.isInteger(eventsPerDimension) || eventsPerDimension < 1 || eventsPerDimension > 10) {
    throw new ArgumentError('--events must be a whole number from 1 to 10');
  }
  if (awsMode()) {
    throw new ArgumentError(
      'sample-usage works only against the local stack (npm start): it posts made-up usage to the local API, which ' +
        'a deployed stack would bill',
    );
  }
  const targets = await commandTargets();
  const apiUrl = await localApiUrl();
  const documents = documentClient(targets.dynamoDbEndpoint);
  const subscribers: { subscriberId: string; productCode: string }[] = [];
  for await (const item of subscriberItems(documents, targets.subscribersTable)) {
    if (item['subscriptionStatus'] !== 'active') continue;
    subscribers.push({ subscriberId: item['subscriberId'] as string, productCode: item['productCode'] as string });
  }
  if (subscribers.length === 0) {
    throw new CommandFailureError('no active subscriber: subscribe on the buyer page of npm start first');
  }

  const now = targets.clock.now().toISOString();
  const failedCalls: string[] = [];
  let calls = 0;
  for (const { subscriberId, productCode } of subscribers) {
    const product = targets.config.products.find((candidate) => candidate.code === productCode);
    const dimensions = (product?.dimensions ?? []).filter((dimension) => dimension.kind === 'metered');
    const events = dimensions.flatMap((dimension) =>
      Array.from({ length: eventsPerDimension }, () => ({
        subscriberId,
        dimension: dimension.name,
        quantity: randomInt(1, 100),
        timestamp: now,
      })),
    );
    if (events.length === 0) continue;
    // Signed as the seller's app signs it: the local gateway, like API Gateway, refuses unsigned calls.
    const response = await fetchSigned(`${apiUrl}/usage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events }),
    });
    calls++;
    const text = await response.text();
    const answer = answerOf(text);
    // A 200 without the API's results came from another server.
    const failed = response.status !== 200 || answer.results?.length !== events.length;
    if (failed) failedCalls.push(`${response.status} ${answer.message ?? text.slice(0, 200)}`);
    const sent = events.reduce((sum, event) => sum + event.quantity, 0);
    console.log(
      `${subscriberId}\n  ${response.status}: ${answer.message ?? ''}${(answer.results ?? [])
        .map(
          (result, index) =>
            `${events[index]!.dimension} ${events[index]!.quantity} ${result.status}${result.reason === undefined ? '' : ` (${result.reason})`}`,
        )
        .join(', ')}\n  ${failed ? `${sent} units not recorded` : `${sent} units in all`}, at ${now}`,
    );
  }
  if (failedCalls.length > 0) {
    throw new CommandFailureError(
      `${failedCalls.length} of ${calls} calls to ${apiUrl}/usage failed (the last: ` +
        `${failedCalls.at(-1)}): is that the API of npm start (${process.env.API_URL ? 'API_URL' : 'PORT'})?`,
    );
  }
  return 0;
});

interface UsageAnswer {
  readonly results?: readonly { readonly status: string; readonly reason?: string }[];
  readonly message?: string;
}

/** The API's answer, or nothing of it when the body is not one (another server answered). */
function answerOf(text: string): UsageAnswer {
  try {
    const answer = JSON.parse(text) as unknown;
    return typeof answer === 'object' && answer !== null ? answer : {};
  } catch {
    return {};
  }
}
