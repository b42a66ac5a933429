/**
 * Marketplace throttling the lifecycle's GetEntitlements: the SDK retries within an invocation (five attempts, with
 * backoff, so each failing invocation takes seconds), then the queue retries the message after its visibility
 * timeout, and after its last receive sets it aside as a dead letter.
 */
import { afterEach, expect, test, vi } from 'vitest';
import { subscribeOnBuyerPage } from '../../support/buyer-page.ts';
import { checkAccess, settleLifecycle } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';

const MAX_RECEIVE_COUNT = 2;
/** The entitlement client's attempts per call (`lambdas/core/aws-clients.ts`): an invocation's worth of throttles. */
const SDK_ATTEMPTS = 5;
const local = useLocalStack({
  marketplaceNotifications: true,
  queueRetries: { visibilityTimeoutMs: 100, maxReceiveCount: MAX_RECEIVE_COUNT },
});

afterEach(async () => {
  await local.control.clearFaults();
  vi.restoreAllMocks();
});

async function subscribe() {
  const { licenseId } = await subscribeOnBuyerPage(local.stack.simulator.url, 'analytics-pro-example');
  const { licenseArn } = await local.control.license(licenseId);
  return { licenseId, subscriberId: `license:${licenseArn}` };
}

test('a throttled GetEntitlements fails the invocation; the queue retries the message and it is applied', async () => {
  await local.control.setFaults({
    rules: [{ kind: 'throttle', operations: ['GetEntitlements'], times: SDK_ATTEMPTS }],
  });
  const { subscriberId } = await subscribe();
  await settleLifecycle(local.stack);

  const { operations } = await local.control.stats();
  expect(operations.GetEntitlements).toEqual(
    expect.objectContaining({ requests: SDK_ATTEMPTS + 1, throttled: SDK_ATTEMPTS }),
  );
  const { body } = await checkAccess(local.stack, subscriberId);
  expect(body.status).toBe('active');
  expect(body.entitlementsFetchedAt).toEqual(expect.any(String));
  expect(local.stack.lifecycleQueue.deadLetters).toEqual([]);
}, 60_000);

test('a throttle that never ends: the message is set aside after its last receive, and said so on stderr', async () => {
  const stderr = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  await local.control.setFaults({ rules: [{ kind: 'throttle', operations: ['GetEntitlements'] }] });
  const { licenseId, subscriberId } = await subscribe();
  await settleLifecycle(local.stack);

  const [deadLetter, ...others] = local.stack.lifecycleQueue.deadLetters;
  expect(others).toEqual([]);
  expect(JSON.parse(deadLetter!.body)).toEqual(
    expect.objectContaining({
      'detail-type': 'License Updated - Manufacturer',
      detail: expect.objectContaining({
        agreement: { id: (await local.control.license(licenseId)).agreementId },
      }) as unknown,
    }),
  );
  expect(deadLetter!.attributes.ApproximateReceiveCount).toBe(String(MAX_RECEIVE_COUNT));
  expect(stderr).toHaveBeenCalledWith(
    `queue lifecycle: message ${deadLetter!.messageId} was received ${MAX_RECEIVE_COUNT} times; set aside`,
  );
  // What the notification says is kept even so: the license is live; only its entitlements are still unread, which the
  // app tells from none by the missing entitlementsFetchedAt.
  const { body } = await checkAccess(local.stack, subscriberId);
  expect(body).toEqual(expect.objectContaining({ status: 'active', entitlements: [] }));
  expect(body).not.toHaveProperty('entitlementsFetchedAt');
}, 90_000);
