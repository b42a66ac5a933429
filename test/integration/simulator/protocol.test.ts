/**
 * The awsJson1_1 wire protocol: what the SDK sees on every answer, and what a client that is not the SDK (or a
 * misconfigured one) gets back.
 */
import { rejectionOf } from '../../support/errors.ts';
import { MarketplaceEntitlementServiceServiceException } from '@aws-sdk/client-marketplace-entitlement-service';
import {
  MarketplaceMeteringServiceException,
  ResolveCustomerCommand,
  ThrottlingException,
} from '@aws-sdk/client-marketplace-metering';
import { GetEntitlementsCommand } from '@aws-sdk/client-marketplace-entitlement-service';
import { describe, expect, test } from 'vitest';
import { meteringClient, useSimulator } from '../../support/simulator.ts';

const sim = useSimulator();

function post(body: string, headers: Record<string, string>) {
  return fetch(sim.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20261118/us-east-1/aws-marketplace/aws4_request, SignedHeaders=host, Signature=00',
      ...headers,
    },
    body,
  });
}

describe('every answer', () => {
  test('carries x-amzn-RequestId, which the SDK reports as $metadata.requestId, on success and on error', async () => {
    const failure = await rejectionOf(sim.metering.send(new ResolveCustomerCommand({ RegistrationToken: 'nope' })));
    expect(failure).toBeInstanceOf(MarketplaceMeteringServiceException);
    expect(failure.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);

    const raw = await post('{}', { 'x-amz-target': 'AWSMPMeteringService.ResolveCustomer' });
    expect(raw.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(raw.headers.get('content-type')).toBe('application/x-amz-json-1.1');
  });

  test('errors are typed JSON bodies the SDK maps to its exception classes', async () => {
    const response = await post('{"RegistrationToken":"nope"}', {
      'x-amz-target': 'AWSMPMeteringService.ResolveCustomer',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      __type: 'com.amazonaws.marketplacemetering#InvalidTokenException',
      message: 'Registration token is invalid',
    });
  });

  test('the entitlement service answers in its own namespace', async () => {
    const failure = await rejectionOf(
      sim.entitlements.send(new GetEntitlementsCommand({ ProductCode: 'unknown-product' })),
    );
    expect(failure).toBeInstanceOf(MarketplaceEntitlementServiceServiceException);
    expect(failure.name).toBe('InvalidParameterException');
  });
});

describe('requests the service refuses before any operation runs', () => {
  test('an unknown or missing X-Amz-Target is UnknownOperationException', async () => {
    for (const target of [{ 'x-amz-target': 'AWSMPMeteringService.DeleteEverything' }, {} as Record<string, string>]) {
      const response = await post('{}', target);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { __type: string }).__type).toContain('UnknownOperationException');
    }
  });

  test('a body that is not a JSON object is SerializationException', async () => {
    for (const body of ['{"RegistrationToken":', '[1,2]', '"text"']) {
      const response = await post(body, { 'x-amz-target': 'AWSMPMeteringService.ResolveCustomer' });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { __type: string }).__type).toContain('SerializationException');
    }
  });

  test('a member of the wrong JSON type is SerializationException, a null one is absent', async () => {
    const wrongType = await post('{"RegistrationToken":42}', {
      'x-amz-target': 'AWSMPMeteringService.ResolveCustomer',
    });
    expect(((await wrongType.json()) as { __type: string }).__type).toContain('SerializationException');
    const nullToken = await post('{"RegistrationToken":null}', {
      'x-amz-target': 'AWSMPMeteringService.ResolveCustomer',
    });
    expect(await nullToken.json()).toEqual({
      __type: 'com.amazon.coral.validate#ValidationException',
      message:
        "1 validation error detected: Value null at 'registrationToken' failed to satisfy constraint: Member must not be null",
    });
  });

  test('a number past what JSON can read (1e400) is SerializationException naming the member, not its type', async () => {
    const response = await post('{"MaxResults":1e400,"ProductCode":"p"}', {
      'x-amz-target': 'AWSMPEntitlementService.GetEntitlements',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toBe("Number out of range at 'maxResults'");
  });

  test('a request without a SigV4 signature scoped to aws-marketplace is refused with 403', async () => {
    const target = { 'x-amz-target': 'AWSMPMeteringService.ResolveCustomer' };
    const unsigned = await post('{}', { ...target, authorization: '' });
    expect(unsigned.status).toBe(403);
    expect(((await unsigned.json()) as { __type: string }).__type).toContain('MissingAuthenticationTokenException');

    const otherService = await post('{}', {
      ...target,
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20261118/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00',
    });
    expect(otherService.status).toBe(403);
    expect(((await otherService.json()) as { message: string }).message).toContain("'aws-marketplace'");

    await sim.control.updateSettings({ requireSignature: false });
    const allowed = await post('{"RegistrationToken":"x"}', { ...target, authorization: '' });
    expect(((await allowed.json()) as { __type: string }).__type).toContain('InvalidTokenException');
  });

  test('a content type other than JSON is SerializationException', async () => {
    const response = await post('RegistrationToken=x', {
      'x-amz-target': 'AWSMPMeteringService.ResolveCustomer',
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toContain('Content-Type');
  });
});

test('a throttled call arrives as the SDK ThrottlingException class, and the SDK retries it', async () => {
  await sim.control.setFaults({ rules: [{ kind: 'throttle', times: 3 }] });
  const failure = await rejectionOf(sim.metering.send(new ResolveCustomerCommand({ RegistrationToken: 'x' })));
  expect(failure).toBeInstanceOf(ThrottlingException);
  expect(failure.$fault).toBe('client');

  const retrying = meteringClient(sim.url, { maxAttempts: 3 });
  const afterRetries = await rejectionOf(retrying.send(new ResolveCustomerCommand({ RegistrationToken: 'x' })));
  retrying.destroy();
  expect(afterRetries.name).toBe('InvalidTokenException');
  expect(afterRetries.$metadata.attempts).toBe(3);
  expect((await sim.control.stats()).operations.ResolveCustomer.throttled).toBe(3);
});
