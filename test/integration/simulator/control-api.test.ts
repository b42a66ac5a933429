/** The control API's own contract: clear 4xx answers for bad requests, and state it reports back faithfully. */
import { BatchMeterUsageCommand, ResolveCustomerCommand } from '@aws-sdk/client-marketplace-metering';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test } from 'vitest';
import { SimulatorControl } from '../../../simulator/control-client.ts';
import { rejectionOf } from '../../support/errors.ts';
import { meteredProduct, minutesFrom, SIMULATOR_NOW, useSimulator } from '../../support/simulator.ts';

const sim = useSimulator();

async function controlCall(method: string, path: string, body?: string) {
  const response = await fetch(`${sim.url}/control${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body }),
  });
  // Answers carry registration tokens: never cached.
  expect(response.headers.get('cache-control')).toBe('no-store');
  return { status: response.status, body: (await response.json()) as { error?: string; message?: string } };
}

test('a product is validated like the seller configuration, naming the bad field', async () => {
  const bad = await controlCall('POST', '/products', JSON.stringify({ ...meteredProduct(), pricingModel: 'monthly' }));
  expect(bad.status).toBe(400);
  expect(bad.body.error).toBe('InvalidRequest');
  expect(bad.body.message).toContain('pricingModel');

  const product = meteredProduct();
  await sim.control.createProduct(product);
  await expect(sim.control.createProduct(product)).rejects.toMatchObject({ status: 409, code: 'ProductExists' });
});

test('licenses: unknown product 404, impossible transitions 409, entitlements only on contract dimensions', async () => {
  await expect(sim.control.createLicense({ productCode: 'missing' })).rejects.toMatchObject({ status: 404 });
  const product = await sim.control.createProduct(meteredProduct());
  const { license } = await sim.control.createLicense({ productCode: product.code });
  await expect(sim.control.activate(license.id)).rejects.toMatchObject({ status: 409, code: 'InvalidLicenseState' });
  await expect(
    sim.control.setEntitlements(license.id, [{ dimension: 'users', value: { IntegerValue: 1 } }]),
  ).rejects.toMatchObject({ status: 400, code: 'InvalidEntitlement' });
  await sim.control.end(license.id);
  await expect(sim.control.end(license.id)).rejects.toMatchObject({ status: 409 });
  await expect(sim.control.license('l-missing')).rejects.toMatchObject({ status: 404, code: 'LicenseNotFound' });
});

test('entitlements are what GetEntitlements could answer: one value per dimension, an IntegerValue of 32 bits', async () => {
  const product = await sim.control.createProduct(
    meteredProduct({ pricingModel: 'contracts', dimensions: [{ name: 'seats', kind: 'contract' }] }),
  );
  const { license } = await sim.control.createLicense({ productCode: product.code });
  const seats = (value: number) => ({ dimension: 'seats', value: { IntegerValue: value } });
  await expect(sim.control.setEntitlements(license.id, [seats(1), seats(2)])).rejects.toMatchObject({
    status: 400,
    code: 'InvalidEntitlement',
  });
  await expect(sim.control.setEntitlements(license.id, [seats(2 ** 31)])).rejects.toMatchObject({ status: 400 });
  const entitled = await sim.control.setEntitlements(license.id, [seats(2 ** 31 - 1)]);
  expect(entitled.entitlements).toMatchObject([seats(2 ** 31 - 1)]);
});

test('an account gets one free trial of a product (409 FreeTrialUsed after it), and one live subscription at a time', async () => {
  const product = await sim.control.createProduct(meteredProduct());
  const account = '606060606060';
  const trial = { productCode: product.code, customerAWSAccountId: account, offerType: 'free-trial' } as const;
  const paid = { productCode: product.code, customerAWSAccountId: account };
  const { license } = await sim.control.createLicense(trial);
  await sim.control.end(license.id);
  await expect(sim.control.createLicense(trial)).rejects.toMatchObject({ status: 409, code: 'FreeTrialUsed' });
  await expect(sim.control.createLicense(paid)).resolves.toMatchObject({ license: { offerType: 'standard' } });
  // A second while the first has neither ended nor failed: Marketplace has one subscription per account and product.
  await expect(sim.control.createLicense(paid)).rejects.toMatchObject({ status: 409, code: 'AlreadySubscribed' });

  // During a free trial, the buyer may accept the paid offer.
  const other = { ...trial, customerAWSAccountId: '707070707070' };
  await expect(sim.control.createLicense(other)).resolves.toBeDefined();
  await expect(sim.control.createLicense({ ...other, offerType: 'standard' })).resolves.toBeDefined();
  await expect(sim.control.createLicense({ ...other, offerType: 'standard' })).rejects.toMatchObject({
    code: 'AlreadySubscribed',
  });
});

test("a legacy buyer's paid subscription goes on from the trial: one CustomerIdentifier, the trial ended with it", async () => {
  const product = await sim.control.createProduct(meteredProduct({ identityModel: 'legacy' }));
  const account = '808080808080';
  const { license: trial } = await sim.control.createLicense({
    productCode: product.code,
    customerAWSAccountId: account,
    offerType: 'free-trial',
  });
  const { license: paid } = await sim.control.createLicense({
    productCode: product.code,
    customerAWSAccountId: account,
  });
  expect(paid.customerIdentifier).toBe(trial.customerIdentifier);
  // Ending the trial now would end the buyer's one subscription, paid included: it is over already.
  expect((await sim.control.license(trial.id)).status).not.toBe('active');
  await expect(sim.control.end(trial.id)).rejects.toMatchObject({ status: 409 });
  expect((await sim.control.license(paid.id)).status).toBe('active');
});

test('a license reports its status as the clock moves: active, ending during the grace hour, then ended', async () => {
  const product = await sim.control.createProduct(meteredProduct());
  const { license } = await sim.control.createLicense({ productCode: product.code });
  expect(license.status).toBe('active');
  await sim.control.end(license.id);
  expect((await sim.control.license(license.id)).status).toBe('ending');
  await sim.control.advanceClock({ hours: 1 });
  expect((await sim.control.license(license.id)).status).toBe('ended');

  // A pending license ended (the buyer cancelled before it went live): ended at once, and never activated after.
  const pending = await sim.control.createLicense({ productCode: product.code, activate: false });
  await sim.control.end(pending.license.id);
  expect((await sim.control.license(pending.license.id)).status).toBe('ended');
  await expect(sim.control.activate(pending.license.id)).rejects.toMatchObject({ status: 409 });
});

test('the clock is set, frozen or running, and advanced', async () => {
  expect(await sim.control.clock()).toEqual({ now: SIMULATOR_NOW.toISOString(), running: false });
  expect((await sim.control.advanceClock({ hours: 1, minutes: 30 })).now).toBe('2026-11-18T14:00:00.000Z');
  await sim.control.setClock(new Date('2027-01-01T00:00:00Z'), true);
  await new Promise((resolve) => setTimeout(resolve, 30));
  const running = await sim.control.clock();
  expect(running.running).toBe(true);
  expect(Date.parse(running.now)).toBeGreaterThan(Date.parse('2027-01-01T00:00:00.020Z'));
  expect(await controlCall('PUT', '/clock', '{"now":"yesterday"}')).toMatchObject({
    status: 400,
    body: {
      message: expect.stringContaining('must be an ISO 8601 date-time with a zone (2026-12-07T10:00:00Z)') as unknown,
    },
  });
  expect((await controlCall('POST', '/clock/advance', '{}')).status).toBe(400);
  // A zone's offset cannot take the clock past the years 0000 to 9999, nor can epoch seconds.
  for (const now of ['"9999-12-31T23:59:59-05:00"', '"0000-01-01T00:00:00+05:00"', '253402300800']) {
    expect({ now, status: (await controlCall('PUT', '/clock', `{"now":${now}}`)).status }).toEqual({
      now,
      status: 400,
    });
  }
  // Frozen where it is, then running on from there, without naming a time.
  const frozen = await sim.control.setClockRunning(false);
  expect(await sim.control.clock()).toEqual({ now: frozen.now, running: false });
  const resumed = await sim.control.setClockRunning(true);
  expect(resumed.running).toBe(true);
  expect(Date.parse(resumed.now)).toBeGreaterThanOrEqual(Date.parse(frozen.now));
  expect((await controlCall('PUT', '/clock', '{}')).status).toBe(400);
  // A negative advance moves it back.
  await sim.control.setClock(new Date('2027-01-01T00:00:00Z'), false);
  expect((await sim.control.advanceClock({ hours: -1 })).now).toBe('2026-12-31T23:00:00.000Z');
});

test('settings are read, patched and validated', async () => {
  expect((await sim.control.settings()).timestampWindowHours).toBe(24);
  expect((await sim.control.updateSettings({ timestampWindowHours: 6 })).timestampWindowHours).toBe(6);
  const bad = await controlCall('PATCH', '/settings', '{"timestampWindowHours":-1,"colour":"blue"}');
  expect(bad.status).toBe(400);
  expect(bad.body.message).toContain('timestampWindowHours');
  expect(bad.body.message).toContain('colour');
  const region = await controlCall('PATCH', '/settings', '{"enabledRegions":["us-east-1","../../x"]}');
  expect(region.status).toBe(400);
  expect(region.body.message).toContain('enabledRegions');
  const twice = await controlCall('PATCH', '/settings', '{"enabledRegions":["eu-west-1","eu-west-1"]}');
  expect(twice.status).toBe(400);
  expect(twice.body.message).toMatch(/must name each region once\n.*at enabledRegions/);
  expect((await sim.control.settings()).enabledRegions).toEqual(['us-east-1']);
});

test('billed records and per-record results can be filtered', async () => {
  const product = await sim.control.createProduct(meteredProduct());
  await sim.control.setClock(minutesFrom(SIMULATOR_NOW, -120), false);
  const { license: first } = await sim.control.createLicense({ productCode: product.code });
  const { license: second } = await sim.control.createLicense({ productCode: product.code });
  await sim.control.setClock(SIMULATOR_NOW, false);
  const record = (license: typeof first, dimension: string, quantity: number) => ({
    Timestamp: minutesFrom(SIMULATOR_NOW, -60),
    Dimension: dimension,
    Quantity: quantity,
    CustomerAWSAccountId: license.customerAWSAccountId,
    LicenseArn: license.licenseArn,
  });
  await sim.metering.send(
    new BatchMeterUsageCommand({
      UsageRecords: [
        record(first, 'users', 1),
        record(first, 'gb', 2),
        record(second, 'users', 4),
        record(first, 'users', 9),
      ],
    }),
  );
  expect((await sim.control.billed({ licenseId: first.id })).totalQuantity).toBe(3);
  expect((await sim.control.billed({ dimension: 'users' })).totalQuantity).toBe(5);
  expect((await sim.control.results({ status: 'DuplicateRecord' })).results).toEqual([
    expect.objectContaining({ licenseId: first.id, quantity: 9, dimension: 'users' }),
  ]);
});

test('reset forgets products, licenses, billing, faults and settings', async () => {
  const product = await sim.control.createProduct(meteredProduct());
  await sim.control.setClock(minutesFrom(SIMULATOR_NOW, -120), false);
  const { license } = await sim.control.createLicense({ productCode: product.code });
  await sim.control.setClock(SIMULATOR_NOW, false);
  await sim.metering.send(
    new BatchMeterUsageCommand({
      UsageRecords: [
        {
          Timestamp: minutesFrom(SIMULATOR_NOW, -60),
          Dimension: 'users',
          Quantity: 1,
          CustomerAWSAccountId: license.customerAWSAccountId,
          LicenseArn: license.licenseArn,
        },
      ],
    }),
  );
  expect((await sim.control.billed()).records).toHaveLength(1);
  await sim.control.updateSettings({ singleUseRegistrationTokens: true });
  await sim.control.setFaults({ rules: [{ kind: 'throttle' }] });

  await sim.control.reset();
  expect((await sim.control.products()).products).toEqual([]);
  expect((await sim.control.licenses()).licenses).toEqual([]);
  expect((await sim.control.billed()).records).toEqual([]);
  expect((await sim.control.results()).results).toEqual([]);
  expect((await sim.control.settings()).singleUseRegistrationTokens).toBe(false);
  expect((await sim.control.events()).events).toEqual([]);
  const afterReset = await rejectionOf(sim.metering.send(new ResolveCustomerCommand({ RegistrationToken: 'x' })));
  expect(afterReset.name).toBe('InvalidTokenException');
});

test('record queries name only fields the records have', async () => {
  const unknown = await controlCall('GET', '/billed?status=Success');
  expect(unknown.status).toBe(400);
  expect(unknown.body.error).toBe('InvalidFilter');
  expect((await controlCall('GET', '/results?customerAWSAccountId=1')).status).toBe(400);
  // A misspelt value would match nothing, so a test asserting "no DuplicateRecord" would pass unchecked.
  const misspelt = await controlCall('GET', '/results?status=Duplicate');
  expect({ status: misspelt.status, error: misspelt.body.error }).toEqual({ status: 400, error: 'InvalidFilter' });
  expect((await controlCall('GET', '/results?status=DuplicateRecord')).status).toBe(200);
  const feed = await controlCall('GET', '/events?afterr=1');
  expect({ status: feed.status, ...feed.body }).toEqual({
    status: 400,
    error: 'InvalidFilter',
    message: 'Unknown filter afterr; use after, format',
  });
  const licenses = await controlCall('GET', '/licenses?status=active');
  expect({ status: licenses.status, error: licenses.body.error }).toEqual({ status: 400, error: 'InvalidFilter' });
  // A filter given twice takes neither value silently: the records of one would pass for those of both.
  const twice = await controlCall('GET', '/billed?productCode=a&productCode=b');
  expect({ status: twice.status, ...twice.body }).toEqual({
    status: 400,
    error: 'InvalidQuery',
    message: 'productCode given more than once; give each parameter once',
  });
  // An endpoint that reads no query refuses one, rather than answer as if it had been read.
  const ignored = await controlCall('GET', '/products?productCode=x');
  expect({ status: ignored.status, ...ignored.body }).toEqual({
    status: 400,
    error: 'InvalidQuery',
    message: 'GET /control/products takes no query parameters: productCode',
  });
  for (const path of ['/stats?x=1', '/warnings?x=1', '/clock?x=1'])
    expect((await controlCall('GET', path)).status, path).toBe(400);
});

test('times and durations beyond what a date can hold are refused, leaving the clock as it was', async () => {
  expect((await controlCall('PUT', '/clock', '{"now":1e300}')).status).toBe(400);
  expect((await controlCall('POST', '/clock/advance', '{"hours":1e300}')).status).toBe(400);
  // Past 9999 the clock would show a time (+010000-...) that PUT /clock could not set it back to.
  expect((await controlCall('POST', '/clock/advance', '{"hours":87000000}')).status).toBe(400);
  expect((await controlCall('PUT', '/clock', '{"now":253402300800}')).status).toBe(400);
  expect((await controlCall('PATCH', '/settings', '{"finalMeteringGraceSeconds":1e308}')).status).toBe(400);
  expect((await sim.control.clock()).now).toBe(SIMULATOR_NOW.toISOString());
});

test('a malformed %-escape in a path is a 400', async () => {
  expect(await controlCall('GET', '/licenses/%E0%A4%A')).toEqual({
    status: 400,
    body: { error: 'InvalidPath', message: 'The path holds a malformed %-escape' },
  });
});

test('GET /control lists the endpoints', async () => {
  const { status, body } = await controlCall('GET', '');
  expect(status).toBe(200);
  expect(body).toEqual(
    expect.objectContaining({
      endpoints: expect.arrayContaining(['GET /control/clock', 'POST /control/licenses/{id}/end']) as unknown,
    }),
  );
  expect((await controlCall('GET', '/')).status).toBe(200);
});

test('unknown endpoints, wrong methods and malformed JSON get JSON 4xx answers', async () => {
  expect(await controlCall('GET', '/nothing-here')).toEqual({
    status: 404,
    body: { error: 'NotFound', message: 'No control endpoint /control/nothing-here' },
  });
  expect((await controlCall('DELETE', '/products')).status).toBe(405);
  expect(await controlCall('POST', '/products', '{"code":')).toEqual({
    status: 400,
    body: { error: 'InvalidJson', message: 'The request body is not valid JSON' },
  });
});

test('the control client names the address and what answered when something other than the simulator is there', async () => {
  const answers = [
    { type: 'application/json', status: 404, body: '{"message":"Nothing at /control/clock"}' },
    { type: 'text/html', status: 200, body: '<html>\n<title>Welcome</title></html>' },
    { type: 'application/json', status: 200, body: 'not json' },
  ];
  const server = createServer((request, response) => {
    const answer = answers.shift()!;
    response.writeHead(answer.status, { 'content-type': answer.type }).end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const control = new SimulatorControl(base);
    expect((await rejectionOf(control.clock())).message).toBe(
      `NotSimulatorError (404): GET ${base}/control/clock answered {"message":"Nothing at /control/clock"}`,
    );
    expect((await rejectionOf(control.clock())).message).toBe(
      `NotJson (200): GET ${base}/control/clock answered <html> <title>Welcome</title></html>`,
    );
    expect((await rejectionOf(control.clock())).message).toBe(
      `NotJson (200): GET ${base}/control/clock answered not json`,
    );
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
