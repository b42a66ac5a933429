/**
 * The Entitlement Service over Smithy RPC v2 CBOR, next to awsJson1_1: the real SDK client with its CBOR protocol,
 * and a bare signed `fetch` that reads the wire (headers, CBOR maps, tag-1 timestamps). Both protocols must answer
 * the same thing for the same license, page by page, and fail the same way.
 */
import {
  GetEntitlementsCommand,
  MarketplaceEntitlementServiceClient,
  type GetEntitlementsCommandOutput,
  type GetEntitlementsRequest,
} from '@aws-sdk/client-marketplace-entitlement-service';
import { cbor, SmithyRpcV2CborProtocol } from '@smithy/core/cbor';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, afterEach, beforeAll, beforeEach, expect, test, vi } from 'vitest';
import { rejectionOf } from '../../support/errors.ts';
import { localCredentials, meteredProduct, useSimulator } from '../../support/simulator.ts';

const sim = useSimulator();
const GET_ENTITLEMENTS_PATH = '/service/AWSMPEntitlementService/operation/GetEntitlements';
let cborClient: MarketplaceEntitlementServiceClient;
let productCode: string;

beforeAll(() => {
  cborClient = new MarketplaceEntitlementServiceClient({
    endpoint: sim.url,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: localCredentials,
    protocol: SmithyRpcV2CborProtocol,
  });
});
afterAll(() => cborClient.destroy());
afterEach(() => {
  vi.restoreAllMocks();
});

beforeEach(async () => {
  const product = await sim.control.createProduct(
    meteredProduct({
      pricingModel: 'contracts',
      dimensions: [
        { name: 'seats', kind: 'contract' },
        { name: 'tier', kind: 'contract' },
      ],
    }),
  );
  productCode = product.code;
  for (const seats of [5, 10, 20]) {
    await sim.control.createLicense({
      productCode,
      entitlements: [
        { dimension: 'seats', value: { IntegerValue: seats }, expirationDate: '2027-11-18T00:00:00.250Z' },
        { dimension: 'tier', value: { StringValue: 'gold' } },
      ],
    });
  }
});

/** Every page, following `NextToken`, without the per-call metadata. */
async function pages(
  client: MarketplaceEntitlementServiceClient,
  request: Omit<GetEntitlementsRequest, 'ProductCode'>,
): Promise<Pick<GetEntitlementsCommandOutput, 'Entitlements' | 'NextToken'>[]> {
  const answered: Pick<GetEntitlementsCommandOutput, 'Entitlements' | 'NextToken'>[] = [];
  let NextToken: string | undefined;
  do {
    const page = await client.send(new GetEntitlementsCommand({ ProductCode: productCode, ...request, NextToken }));
    answered.push({ Entitlements: page.Entitlements, NextToken: page.NextToken });
    NextToken = page.NextToken;
  } while (NextToken !== undefined);
  return answered;
}

/** A GetEntitlements call on the wire, signed as an SDK signs it. */
async function rawCall(
  body: Uint8Array,
  options: { headers?: Record<string, string>; path?: string; sign?: boolean } = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const url = new URL(options.path ?? GET_ENTITLEMENTS_PATH, sim.url);
  const headers = {
    'content-type': 'application/cbor',
    accept: 'application/cbor',
    'smithy-protocol': 'rpc-v2-cbor',
    ...options.headers,
  };
  const signer = new SignatureV4({
    service: 'aws-marketplace',
    region: 'us-east-1',
    credentials: localCredentials,
    sha256: Sha256,
  });
  const request = {
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    headers: { ...headers, host: url.host },
    body,
  };
  const signed = options.sign === false ? request : await signer.sign(request);
  const response = await fetch(url, {
    method: 'POST',
    headers: Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host')),
    body,
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  return {
    status: response.status,
    headers: response.headers,
    body: cbor.deserialize(bytes) as Record<string, unknown>,
  };
}

test('GetEntitlements over CBOR answers what awsJson1_1 answers, page by page through NextToken', async () => {
  const request = { MaxResults: 2 };
  const overCbor = await pages(cborClient, request);
  const overJson = await pages(sim.entitlements, request);
  expect(overCbor).toEqual(overJson);
  expect(overCbor).toHaveLength(3);
  expect(overCbor.flatMap((page) => page.Entitlements ?? [])).toHaveLength(6);
  expect(overCbor[0]?.Entitlements?.[0]?.ExpirationDate).toEqual(new Date('2027-11-18T00:00:00.250Z'));

  const filtered = { Filter: { DIMENSION: ['seats'] }, MaxResults: 1 };
  expect(await pages(cborClient, filtered)).toEqual(await pages(sim.entitlements, filtered));
});

test('on the wire: smithy-protocol and application/cbor on the answer, timestamps as CBOR tag 1', async () => {
  const answer = await rawCall(cbor.serialize({ ProductCode: productCode, Filter: { DIMENSION: ['seats'] } }));
  expect(answer.status).toBe(200);
  expect(answer.headers.get('smithy-protocol')).toBe('rpc-v2-cbor');
  expect(answer.headers.get('content-type')).toBe('application/cbor');
  expect(answer.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
  const [first] = answer.body.Entitlements as Record<string, unknown>[];
  expect(first?.ExpirationDate).toEqual(
    expect.objectContaining({ tag: 1, value: Date.parse('2027-11-18T00:00:00.250Z') / 1000 }),
  );
  expect(first?.Value).toEqual({ IntegerValue: 5 });
});

test('errors: a CBOR map with __type, which the SDK maps to the modeled exception, as over awsJson1_1', async () => {
  const unknownProduct = { ProductCode: 'no-such-product' };
  const overCbor = await rejectionOf(cborClient.send(new GetEntitlementsCommand(unknownProduct)));
  const overJson = await rejectionOf(sim.entitlements.send(new GetEntitlementsCommand(unknownProduct)));
  expect(overCbor.name).toBe('InvalidParameterException');
  expect(overCbor.$metadata.httpStatusCode).toBe(400);
  expect(overCbor.message).toBe(overJson.message);

  const raw = await rawCall(cbor.serialize(unknownProduct));
  expect(raw.status).toBe(400);
  expect(raw.headers.get('smithy-protocol')).toBe('rpc-v2-cbor');
  expect(raw.body).toEqual({
    __type: 'com.amazonaws.marketplaceentitlementservice#InvalidParameterException',
    message: overJson.message,
  });

  const badToken = { ProductCode: productCode, NextToken: 'not-a-token' };
  const tokenOverCbor = await rejectionOf(cborClient.send(new GetEntitlementsCommand(badToken)));
  expect(tokenOverCbor.name).toBe('InvalidParameterException');
  expect(tokenOverCbor.message).toBe('NextToken is not valid for this request');

  const tooMany = await rawCall(cbor.serialize({ ProductCode: productCode, MaxResults: 26 }));
  expect(tooMany.status).toBe(400);
  expect(tooMany.body.__type).toBe('com.amazon.coral.validate#ValidationException');
  expect(tooMany.body.message).toBe(
    "1 validation error detected: Value '26' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 25",
  );
});

test('requests the protocol refuses, each answered in CBOR', async () => {
  const body = cbor.serialize({ ProductCode: productCode });
  const withoutProtocol = await rawCall(body, { headers: { 'smithy-protocol': 'rpc-v2-json' } });
  expect(withoutProtocol.status).toBe(400);
  expect(withoutProtocol.body.__type).toBe('com.amazon.coral.service#SerializationException');

  const asJson = await rawCall(body, { headers: { 'content-type': 'application/json' } });
  expect(asJson.status).toBe(415);

  const notCbor = await rawCall(new TextEncoder().encode('{"ProductCode":"x"}'));
  expect(notCbor.status).toBe(400);
  expect(notCbor.body.__type).toBe('com.amazon.coral.service#SerializationException');

  // A map claiming 2^64 - 1 entries: refused, without the decoder's warning and stack trace on the simulator's log.
  const warn = vi.spyOn(console, 'warn');
  const hugeLength = await rawCall(Uint8Array.from([0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  expect(warn).not.toHaveBeenCalled();
  expect(hugeLength.status).toBe(400);
  expect(hugeLength.body).toEqual({
    __type: 'com.amazon.coral.service#SerializationException',
    message: 'Request body is not valid CBOR',
  });

  // The metering service's model lists awsJson1_1 only.
  const metering = await rawCall(body, { path: '/service/AWSMPMeteringService/operation/BatchMeterUsage' });
  expect(metering.status).toBe(404);
  expect(metering.body.__type).toBe('com.amazon.coral.service#UnknownOperationException');

  const unsigned = await rawCall(body, { sign: false });
  expect(unsigned.status).toBe(403);
  expect(unsigned.headers.get('smithy-protocol')).toBe('rpc-v2-cbor');
  expect(unsigned.body.__type).toBe('com.amazon.coral.service#MissingAuthenticationTokenException');
});
