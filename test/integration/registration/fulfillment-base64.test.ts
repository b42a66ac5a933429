/**
 * API Gateway may hand the function a form body base64-encoded (when binary media types match it); the fulfillment
 * URL and the registration page work the same either way. This file's gateway encodes every body.
 */
import { expect, test } from 'vitest';
import { FORM, postFulfillment, registerAfter } from '../../support/buyer.ts';
import { useLocalStack } from '../../support/local-stack.ts';

const local = useLocalStack({ bodyEncoding: 'always' });

test('a base64-encoded form body is decoded: the token, with its + / = intact, resolves', async () => {
  const { license } = await local.control.createLicense({ productCode: 'analytics-pro-example' });
  const registrationToken = await tokenWithBase64Specials(license.id);
  const arrival = await postFulfillment(local.stack.fulfillmentUrl, { 'x-amzn-marketplace-token': registrationToken });
  expect(arrival.status).toBe(303);

  const done = await registerAfter(arrival, `${local.stack.apiUrl}/register`, {
    company: 'Ünïcødé GmbH',
    contactName: 'Zoë',
    email: 'z@example.de',
  });
  expect(done.status).toBe(303);
  const stored = (await local.subscriberItems()).find(
    (item) => item.sk === 'SUBSCRIBER' && item.licenseArn === license.licenseArn,
  );
  expect((stored?.registration as { details: { company: string } }).details.company).toBe('Ünïcødé GmbH');
});

/** Random tokens lack all of + / = about once in 60; asking for another until one has them keeps the test exact. */
async function tokenWithBase64Specials(licenseId: string): Promise<string> {
  for (let tries = 0; tries < 500; tries++) {
    const { registrationToken } = await local.control.issueRegistrationToken(licenseId);
    if (/[+/=]/.test(registrationToken)) return registrationToken;
  }
  throw new Error('500 registration tokens without + / or =: the simulator no longer issues standard base64 tokens');
}

test('bytes that are not UTF-8 get a page, not an error', async () => {
  const answer = await fetch(local.stack.fulfillmentUrl, {
    method: 'POST',
    headers: { 'content-type': FORM },
    body: Buffer.concat([Buffer.from('x-amzn-marketplace-token='), Buffer.from([0xff, 0xfe])]),
  });
  expect(answer.status).toBe(400);
  expect(await answer.text()).toContain('We could not read that request');
});
