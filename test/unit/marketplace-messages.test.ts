import { describe, expect, test } from 'vitest';
import type { ProductListing } from '../../lambdas/core/environment.ts';
import { parseMarketplaceMessage } from '../../lambdas/core/lifecycle/marketplace-messages.ts';

const products: ProductListing[] = [
  { code: 'licensed', name: 'Licensed', identityModel: 'license' },
  { code: 'legacy-product', name: 'Legacy', identityModel: 'legacy' },
];
const receivedAt = new Date('2026-11-26T12:00:00Z');
const parse = (message: unknown) =>
  parseMarketplaceMessage(typeof message === 'string' ? message : JSON.stringify(message), receivedAt, products);

/** AWS's documented `License Updated - Manufacturer` example, with this test's product. */
function licenseEvent(detailType: string, productCode = 'licensed') {
  return {
    version: '0',
    id: '12345678-1234-1234-1234-123456789012',
    'detail-type': detailType,
    source: 'aws.agreement-marketplace',
    account: '111122223333',
    time: '2026-11-26T10:15:00Z',
    region: 'us-east-1',
    resources: ['arn:aws:aws-marketplace::aws:agreement:agmt-4mwg1nevbokzw95eca5797ixs'],
    detail: {
      requestId: '3d4c9f9b-b809-4f5e-9fac-a9ae98b05cbb',
      catalog: 'AWSMarketplace',
      agreement: { id: 'agmt-4mwg1nevbokzw95eca5797ixs' },
      product: { code: productCode, id: 'prod-qtwveEXAMPLE' },
      // As in AWS's example: without the `arn:` prefix.
      license: { arn: 'aws:license-manager:us-east-1:123456789012:l-e52ca6f38bf84d0fafb8802ca15ac11x' },
      acceptor: { accountId: '845735284135' },
      proposer: { accountId: '123456512334' },
      offer: { id: '8kkr91jo647j3qxlcjhlqce7y' },
    },
  };
}

function snsEnvelope(message: unknown) {
  return {
    Type: 'Notification',
    MessageId: 'abc',
    TopicArn: 'arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-legacy-product',
    Message: JSON.stringify(message),
    Timestamp: '2026-11-26T10:20:00.000Z',
    SignatureVersion: '1',
    Signature: 'x',
    SigningCertURL: 'https://sns.us-east-1.amazonaws.com/x.pem',
    UnsubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe',
  };
}

describe('EventBridge', () => {
  test('License Updated activates the license it names and asks for its entitlements', () => {
    expect(parse(licenseEvent('License Updated - Manufacturer'))).toEqual({
      outcome: 'notification',
      notification: {
        kind: 'subscriber',
        subscriber: {
          model: 'license',
          productCode: 'licensed',
          licenseArn: 'arn:aws:license-manager:us-east-1:123456789012:l-e52ca6f38bf84d0fafb8802ca15ac11x',
          customerAWSAccountId: '845735284135',
          agreementId: 'agmt-4mwg1nevbokzw95eca5797ixs',
        },
        facts: ['activatedAt'],
        entitlementsChanged: true,
        at: new Date('2026-11-26T10:15:00Z'),
        name: 'License Updated - Manufacturer',
      },
    });
  });

  test('License Deprovisioned opens the final-metering window, and has the entitlements read again (revoked)', () => {
    const parsed = parse(licenseEvent('License Deprovisioned - Manufacturer'));
    expect(parsed.outcome === 'notification' && parsed.notification).toMatchObject({
      facts: ['endRequestedAt'],
      entitlementsChanged: true,
    });
  });

  test('agreement events name the agreement, its status and intent', () => {
    const ended = {
      ...licenseEvent('Purchase Agreement Ended - Proposer'),
      detail: {
        agreement: { id: 'agmt-1', status: 'CANCELLED' },
        resaleAuthorization: null,
        acceptor: { accountId: '845735284135' },
        proposer: { accountId: '1' },
        offer: { id: 'offer-1' },
      },
    };
    expect(parse(ended)).toEqual({
      outcome: 'notification',
      notification: {
        kind: 'agreement',
        agreementId: 'agmt-1',
        status: 'CANCELLED',
        intent: undefined,
        acceptorAccountId: '845735284135',
        offerId: 'offer-1',
        at: new Date('2026-11-26T10:15:00Z'),
        name: 'Purchase Agreement Ended - Proposer',
      },
    });
  });

  test("a legacy product's license event is ignored, not set aside: its SNS topics carry its lifecycle", () => {
    for (const name of ['License Updated - Manufacturer', 'License Deprovisioned - Manufacturer']) {
      const withLicense = licenseEvent(name, 'legacy-product');
      expect(parse(withLicense)).toEqual({
        outcome: 'ignored',
        reason: expect.stringContaining('legacy') as unknown,
        name,
      });
      const withoutLicense = { ...withLicense, detail: { product: { code: 'legacy-product' } } };
      expect(parse(withoutLicense)).toMatchObject({ outcome: 'ignored' });
    }
  });

  test('another source, an unknown detail-type, a foreign product or a malformed detail is set aside', () => {
    expect(parse({ ...licenseEvent('License Updated - Manufacturer'), source: 'aws.ec2' })).toMatchObject({
      outcome: 'rejected',
      reason: 'an event from aws.ec2',
    });
    expect(parse(licenseEvent('License Suspended - Manufacturer'))).toMatchObject({
      outcome: 'rejected',
      reason: 'an unknown detail-type',
    });
    expect(parse(licenseEvent('License Updated - Manufacturer', 'someone-else'))).toMatchObject({
      outcome: 'rejected',
      reason: expect.stringContaining('not a license-model product sold here') as unknown,
    });
    // A foreign product is named as such even when its event lacks a license, as one of a legacy product does.
    expect(
      parse({ ...licenseEvent('License Updated - Manufacturer'), detail: { product: { code: 'someone-else' } } }),
    ).toEqual({
      outcome: 'rejected',
      reason: 'a license of someone-else, not a license-model product sold here',
      name: 'License Updated - Manufacturer',
    });
    expect(parse({ ...licenseEvent('License Updated - Manufacturer'), detail: { product: {} } })).toMatchObject({
      outcome: 'rejected',
    });
  });
});

describe('SNS (legacy products)', () => {
  const message = (action: string) => ({
    action,
    'customer-identifier': ' X01EXAMPLEX',
    'product-code': 'legacy-product',
    'offer-identifier': 'offer-1',
    isFreeTrialTermPresent: 'false',
  });

  test.each([
    ['subscribe-success', ['activatedAt'], true],
    ['subscribe-fail', ['failedAt'], false],
    ['unsubscribe-pending', ['endRequestedAt'], true],
    ['unsubscribe-success', ['endedAt'], false],
    ['entitlement-updated', [], true],
  ])(
    '%s, in its envelope, is dated by the envelope and trims the documented leading space',
    (action, facts, refresh) => {
      expect(parse(snsEnvelope(message(action)))).toEqual({
        outcome: 'notification',
        notification: {
          kind: 'subscriber',
          subscriber: { model: 'legacy', productCode: 'legacy-product', customerIdentifier: 'X01EXAMPLEX' },
          facts,
          entitlementsChanged: refresh,
          at: new Date('2026-11-26T10:20:00.000Z'),
          name: action,
          // Marketplace's word on the trial, where it matters: the subscription it starts.
          ...(action === 'subscribe-success' ? { freeTrial: false } : {}),
        },
      });
    },
  );

  test('isFreeTrialTermPresent says whether the subscription is a free trial, as a string; anything else says nothing', () => {
    const freeTrialOf = (isFreeTrialTermPresent: unknown) => {
      const parsed = parse(snsEnvelope({ ...message('subscribe-success'), isFreeTrialTermPresent }));
      return parsed.outcome === 'notification' && parsed.notification.kind === 'subscriber'
        ? parsed.notification.freeTrial
        : 'not a notification';
    };
    expect([' true', 'TRUE', 'false', 'False ', true, false].map(freeTrialOf)).toEqual([
      true,
      true,
      false,
      false,
      true,
      false,
    ]);
    expect(['yes', '', 'constructor', null, undefined, 1].map(freeTrialOf)).toEqual(
      Array.from({ length: 6 }, () => undefined),
    );
  });

  test('delivered raw, and with the older PascalCase keys, it is dated by the queue', () => {
    const raw = { action: 'subscribe-success', CustomerIdentifier: 'X01', ProductCode: 'legacy-product' };
    expect(parse(raw)).toMatchObject({
      outcome: 'notification',
      notification: { subscriber: { customerIdentifier: 'X01' }, at: receivedAt },
    });
  });

  test('an unknown action, a foreign product or a missing customer is set aside', () => {
    expect(parse(snsEnvelope(message('subscribe-maybe')))).toMatchObject({
      outcome: 'rejected',
      reason: 'an unknown SNS action',
    });
    expect(parse(snsEnvelope({ ...message('subscribe-success'), 'product-code': 'licensed' }))).toMatchObject({
      outcome: 'rejected',
    });
    expect(parse(snsEnvelope({ action: 'subscribe-success', 'product-code': 'legacy-product' }))).toMatchObject({
      outcome: 'rejected',
    });
  });
});

test('what is not a notification at all is set aside, never thrown', () => {
  for (const body of ['not json', '42', 'null', '{"Type":"Notification","Message":"{"}', '{"hello":"world"}', '[]']) {
    expect(parse(body).outcome, body).toBe('rejected');
  }
});
