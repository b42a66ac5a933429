/**
 * Routes with IAM authorization on the local gateway, as API Gateway answers them: an unsigned call is refused with
 * `Missing Authentication Token`, a wrongly signed one with API Gateway's signature errors, and a call signed with the
 * local secret (by the AWS SDK's own signer, any access key id) reaches the function, which sees the caller's key.
 */
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterEach, expect, onTestFinished, test } from 'vitest';
import { GatewayConfigError } from '../../../local/gateway/config-error.ts';
import { startLocalGateway, type Route, type RunningGateway } from '../../../local/gateway/server.ts';
import type { SigningClock } from '../../../local/gateway/sigv4-verification.ts';
import { fetchSigned } from '../../../local/http/signed-fetch.ts';
import { SimulatorClock } from '../../../simulator/clock.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/local-aws.ts';

const MINUTE_MS = 60_000;
const invocations: APIGatewayProxyEvent[] = [];
afterEach(() => {
  invocations.length = 0;
});

const echo: Route['handler'] = (event) => {
  invocations.push(event);
  return Promise.resolve({ statusCode: 200, body: JSON.stringify({ body: event.body }) });
};

/** A clock of the stack's own, which a test may move away from the machine's, as tests move the simulator's. */
const stackClock = { offsetMs: 0, now: () => new Date(Date.now() + stackClock.offsetMs) };

async function startGateway(clocks: readonly SigningClock[] = [stackClock]): Promise<RunningGateway> {
  stackClock.offsetMs = 0;
  const gateway = await startLocalGateway({
    routes: [
      { method: 'ANY', path: '/subscribers/{id}', handler: echo, authorization: 'iam' },
      { method: 'ANY', path: '/usage', handler: echo, authorization: 'iam' },
      { method: 'ANY', path: '/fulfillment', handler: echo },
    ],
    iam: {
      secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey,
      region: LOCAL_REGION,
      clocks: [{ now: () => new Date() }, ...clocks],
    },
  });
  onTestFinished(() => gateway.close());
  return gateway;
}

async function answerOf(response: Response) {
  return {
    status: response.status,
    errorType: response.headers.get('x-amzn-errortype'),
    body: (await response.json()) as { message?: string; body?: string },
  };
}

const usageBody = JSON.stringify({ events: [] });
const post = { method: 'POST', headers: { 'content-type': 'application/json' }, body: usageBody };

test('an unsigned call to either IAM route is refused as API Gateway refuses it, and reaches no function', async () => {
  const gateway = await startGateway();
  for (const response of [
    await fetch(`${gateway.url}/subscribers/license%3Aarn`),
    await fetch(`${gateway.url}/usage`, post),
  ]) {
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await answerOf(response)).toEqual({
      status: 403,
      errorType: 'MissingAuthenticationTokenException',
      body: { message: 'Missing Authentication Token' },
    });
  }
  expect(invocations).toEqual([]);
});

test('a call signed with the local secret reaches the function, whatever the access key id, which it sees', async () => {
  const gateway = await startGateway();
  const access = await fetchSigned(`${gateway.url}/subscribers/license%3Aarn%3Aaws%3Alicense-manager%3A%3A1%3Al-1`);
  expect(access.status).toBe(200);
  const usage = await fetchSigned(`${gateway.url}/usage`, post, {
    credentials: { accessKeyId: 'AKIDSELLERAPP', secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey },
  });
  expect(await answerOf(usage)).toEqual({ status: 200, errorType: null, body: { body: usageBody } });
  expect(invocations.map((event) => event.requestContext.identity.accessKey)).toEqual(['local', 'AKIDSELLERAPP']);
  expect(invocations[0]?.pathParameters).toEqual({ id: 'license:arn:aws:license-manager::1:l-1' });
});

test('a call signed with another secret is refused with the canonical request API Gateway expected', async () => {
  const gateway = await startGateway();
  for (const response of [
    await fetchSigned(`${gateway.url}/subscribers/s-1?view=full`, {}, { credentials: wrongSecret }),
    await fetchSigned(`${gateway.url}/usage`, post, { credentials: wrongSecret }),
  ]) {
    const answer = await answerOf(response);
    expect(answer).toMatchObject({ status: 403, errorType: 'InvalidSignatureException' });
    expect(answer.body.message).toMatch(
      /^The request signature we calculated does not match the signature you provided\. Check your AWS Secret Access Key and signing method\. Consult the service documentation for details\.\n\nThe Canonical String for this request should have been\n'(GET|POST)\n\/local\/(subscribers\/s-1\nview=full|usage\n)\n[^]*'\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n\d{8}T\d{6}Z\n\d{8}\/us-east-1\/execute-api\/aws4_request\n[0-9a-f]{64}'\n$/,
    );
  }
  expect(invocations).toEqual([]);
});

const wrongSecret = { accessKeyId: 'local', secretAccessKey: 'not-the-local-secret' };

test('a signed call whose body was changed on the way is refused', async () => {
  const gateway = await startGateway();
  const signed = await signedHeaders(`${gateway.url}/usage`, usageBody);
  const response = await fetch(`${gateway.url}/usage`, {
    method: 'POST',
    headers: signed,
    body: JSON.stringify({ events: [{ quantity: 1000 }] }),
  });
  expect(await answerOf(response)).toMatchObject({ status: 403, errorType: 'InvalidSignatureException' });
  expect(invocations).toEqual([]);
});

test('a signature more than 5 minutes from both the machine and the stack clock is expired or not yet current', async () => {
  const gateway = await startGateway();
  const signedAt = new Date(Date.now() - 10 * MINUTE_MS);
  const expired = await answerOf(await fetchSigned(`${gateway.url}/usage`, post, { signingDate: signedAt }));
  expect(expired).toMatchObject({ status: 403, errorType: 'InvalidSignatureException' });
  expect(expired.body.message).toMatch(
    /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/,
  );
  const early = await answerOf(
    await fetchSigned(`${gateway.url}/usage`, post, { signingDate: new Date(Date.now() + 10 * MINUTE_MS) }),
  );
  expect(early.body.message).toMatch(/^Signature not yet current: .* is still later than .* \+ 5 min\.\)$/);

  // Dated by the stack's time, moved an hour on (as tests move the simulator's clock), it is current.
  stackClock.offsetMs = 60 * MINUTE_MS;
  const byStackTime = await fetchSigned(`${gateway.url}/usage`, post, { signingDate: stackClock.now() });
  expect(byStackTime.status).toBe(200);
});

test('a signature dated by the stack clock just before it was moved on is still current', async () => {
  const readBeforeTheMove = new Date(Date.UTC(2030, 0, 1, 10));
  const clock = new SimulatorClock(readBeforeTheMove, false);
  const gateway = await startGateway([clock]);
  // The local stack moves the clock in steps: 25 hours on, in as many stops as a catch-up makes.
  for (let stop = 1; stop <= 100; stop++) clock.set(new Date(readBeforeTheMove.getTime() + stop * 15 * MINUTE_MS));

  const signedBeforeTheMove = await fetchSigned(`${gateway.url}/usage`, post, { signingDate: readBeforeTheMove });
  expect(signedBeforeTheMove.status).toBe(200);
  // Still no date the clock never showed, give or take 5 minutes: before it, or inside a jump it made at once.
  const beforeAnyOfIt = new Date(readBeforeTheMove.getTime() - 6 * MINUTE_MS);
  expect((await fetchSigned(`${gateway.url}/usage`, post, { signingDate: beforeAnyOfIt })).status).toBe(403);
  const jumpedFrom = clock.now().getTime();
  clock.set(new Date(jumpedFrom + 30 * 24 * 60 * MINUTE_MS));
  const insideTheJump = new Date(jumpedFrom + 24 * 60 * MINUTE_MS);
  expect((await fetchSigned(`${gateway.url}/usage`, post, { signingDate: insideTheJump })).status).toBe(403);
  expect((await fetchSigned(`${gateway.url}/usage`, post, { signingDate: new Date(jumpedFrom) })).status).toBe(200);
});

test("a call signed for another region than the API's is refused, in API Gateway's words", async () => {
  const gateway = await startGateway();
  const elsewhere = await answerOf(await fetchSigned(`${gateway.url}/usage`, post, { region: 'eu-west-1' }));
  expect(elsewhere).toEqual({
    status: 403,
    errorType: 'InvalidSignatureException',
    body: { message: "Credential should be scoped to a valid region, not 'eu-west-1'. " },
  });
  const signed = await signedHeaders(`${gateway.url}/usage`, usageBody);
  const bothWrong = signed.authorization!.replace(`/${LOCAL_REGION}/execute-api/`, '/eu-west-1/lambda/');
  expect(
    (await answerOf(await fetch(`${gateway.url}/usage`, { ...post, headers: { ...signed, authorization: bothWrong } })))
      .body.message,
  ).toBe(
    "Credential should be scoped to a valid region, not 'eu-west-1'. Credential should be scoped to correct " +
      "service: 'execute-api'. ",
  );
  expect(invocations).toEqual([]);
});

test('a header that is not a whole SigV4 one, or signed for another service, is refused', async () => {
  const gateway = await startGateway();
  const bearer = await answerOf(
    await fetch(`${gateway.url}/usage`, { ...post, headers: { ...post.headers, authorization: 'Bearer abc' } }),
  );
  expect(bearer).toMatchObject({ status: 403, errorType: 'IncompleteSignatureException' });
  expect(bearer.body.message).toBe(
    "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. " +
      "Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either " +
      "a 'X-Amz-Date' or a 'Date' header. Authorization=Bearer abc",
  );
  const signed = await signedHeaders(`${gateway.url}/usage`, usageBody);
  const otherService = signed.authorization!.replace('/execute-api/', '/lambda/');
  const wrongService = await answerOf(
    await fetch(`${gateway.url}/usage`, { ...post, headers: { ...signed, authorization: otherService } }),
  );
  expect(wrongService).toEqual({
    status: 403,
    errorType: 'InvalidSignatureException',
    body: { message: "Credential should be scoped to correct service: 'execute-api'. " },
  });
});

test('a signature that leaves the host out is refused, as AWS refuses it, however right it is', async () => {
  const gateway = await startGateway();
  const headers = await signedHeaders(`${gateway.url}/usage`, usageBody, { unsignableHeaders: new Set(['host']) });
  expect(headers.authorization).toMatch(/SignedHeaders=content-type;x-amz-content-sha256;x-amz-date,/);
  const hostLeftOut = await answerOf(await fetch(`${gateway.url}/usage`, { ...post, headers }));
  expect(hostLeftOut).toEqual({
    status: 403,
    errorType: 'IncompleteSignatureException',
    body: { message: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization." },
  });
  expect(invocations).toEqual([]);
});

test('public routes stay public, and IAM routes need a way to check signatures', async () => {
  const gateway = await startGateway();
  expect((await fetch(`${gateway.url}/fulfillment`, { method: 'POST' })).status).toBe(200);
  await expect(
    startLocalGateway({ routes: [{ method: 'GET', path: '/usage', handler: echo, authorization: 'iam' }] }),
  ).rejects.toThrow(GatewayConfigError);
});

/** The headers of a signed POST of `body` to `url`, as the AWS SDK's signer makes them (without `host`: fetch sets it). */
async function signedHeaders(
  url: string,
  body: string,
  options: { unsignableHeaders?: Set<string> } = {},
): Promise<Record<string, string>> {
  const target = new URL(url);
  const signer = new SignatureV4({
    service: 'execute-api',
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    sha256: Sha256,
  });
  const { headers } = await signer.sign(
    {
      method: 'POST',
      protocol: target.protocol,
      hostname: target.hostname,
      port: Number(target.port),
      path: target.pathname,
      headers: { host: target.host, 'content-type': 'application/json' },
      body,
    },
    options,
  );
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'host'));
}
