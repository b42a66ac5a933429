/**
 * `npm run redrive` against the local stack's queues through their SQS-shaped endpoint, with the real SQS client:
 * seller events the webhook kept refusing end up dead letters; once the webhook takes calls again, moving them back
 * delivers them. `--list` shows the dead-letter queues and their counts; a queue that names none is refused.
 */
import { expect, test } from 'vitest';
import type { BusEvent } from '../../../local/event-bus.ts';
import { subscribeOnBuyerPage } from '../../support/buyer-page.ts';
import { settleLifecycle } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';
import { runNodeCommand } from '../../support/node-command.ts';

const MAX_RECEIVE_COUNT = 2;
const local = useLocalStack({
  marketplaceNotifications: true,
  // The function's backoff between webhook attempts (30 s, doubling) lasts milliseconds here.
  queueRetries: { visibilityTimeoutMs: 50, maxReceiveCount: MAX_RECEIVE_COUNT, deferralSecondMs: 1 },
});

/** Each test runs the command in processes of its own (`node --import tsx`): seconds apiece on a loaded machine. */
const COMMAND_TEST_TIMEOUT_MS = 120_000;

const redrive = (...args: string[]) =>
  runNodeCommand(['local/commands/redrive.ts', ...args], { SQS_ENDPOINT: local.stack.sqsEndpoint });

test(
  'dead letters are listed, moved back by name, and delivered by their consumer',
  { timeout: COMMAND_TEST_TIMEOUT_MS },
  async () => {
    local.stack.webhookReceiver.failNext(1_000);
    const before = local.stack.eventBus.events().length;
    await subscribeOnBuyerPage(local.stack.simulator.url, 'analytics-pro-example');
    await settleLifecycle(local.stack);
    const events: BusEvent[] = local.stack.eventBus.events().slice(before);
    expect(events.length).toBeGreaterThan(0);
    expect(local.stack.webhookQueue.deadLetters).toHaveLength(events.length);

    const listed = await redrive('--list');
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(`Dead-letter queues of ${local.stack.sqsEndpoint}`);
    expect(listed.stdout).toMatch(/^lifecycle-dead-letters +0 +lifecycle$/m);
    expect(listed.stdout).toMatch(new RegExp(`^webhook-dead-letters +${events.length} +webhook$`, 'm'));

    local.stack.webhookReceiver.failNext(0);
    const moved = await redrive('webhook');
    expect(moved.status, moved.stderr).toBe(0);
    const messages = events.length === 1 ? '1 message' : `${events.length} messages`;
    expect(moved.stdout).toContain(`Moved ${messages} from webhook-dead-letters back to webhook`);
    await settleLifecycle(local.stack);

    expect(local.stack.webhookQueue.deadLetters).toEqual([]);
    for (const event of events) {
      const calls = local.stack.webhookReceiver.calls().filter((call) => call.eventId === event.id);
      expect(calls.map((call) => call.status)).toEqual([...Array<number>(MAX_RECEIVE_COUNT).fill(503), 204]);
    }
    expect((await redrive('--list')).stdout).toMatch(/^webhook-dead-letters +0 +webhook$/m);
  },
);

test(
  'a queue by its URL or ARN; with no message there is nothing to move',
  { timeout: COMMAND_TEST_TIMEOUT_MS },
  async () => {
    const byUrl = await redrive(`${local.stack.sqsEndpoint}/123456789012/lifecycle-dead-letters`);
    expect(byUrl.status, byUrl.stderr).toBe(0);
    expect(byUrl.stdout).toContain('lifecycle-dead-letters holds no message: nothing to move back to lifecycle.');
    // The same queue under another of SQS's host names for its region.
    const byAwsUrl = await redrive('https://sqs.us-east-1.amazonaws.com/123456789012/lifecycle-dead-letters');
    expect(byAwsUrl.status, byAwsUrl.stderr).toBe(0);
    const byArn = await redrive('arn:aws:sqs:us-east-1:123456789012:webhook-dead-letters');
    expect(byArn.status, byArn.stderr).toBe(0);
    expect(byArn.stdout).toContain('webhook-dead-letters holds no message');
  },
);

test(
  'a queue that names no dead-letter queue, or more than one, is refused with the ones there are',
  { timeout: COMMAND_TEST_TIMEOUT_MS },
  async () => {
    for (const [given, problem] of [
      ['billing', 'no dead-letter queue'],
      ['dead-letters', 'more than one dead-letter queue'],
      ['arn:aws:sqs:us-east-1:123456789012:lifecycle', 'no dead-letter queue'],
      // A queue of the same name in another account or region is another queue.
      [`${local.stack.sqsEndpoint}/999999999999/lifecycle-dead-letters`, 'no dead-letter queue'],
      ['https://sqs.eu-west-1.amazonaws.com/123456789012/webhook-dead-letters', 'no dead-letter queue'],
    ] as const) {
      const refused = await redrive(given);
      expect(refused.status).toBe(2);
      expect(refused.stderr).toContain(
        `npm run redrive: ${problem} of ${local.stack.sqsEndpoint} matches "${given}"; they are: ` +
          'lifecycle-dead-letters, webhook-dead-letters',
      );
    }
    const neither = await redrive();
    expect(neither.status).toBe(2);
    expect(neither.stderr).toContain('give one dead-letter queue, or --list');
  },
);
