import type { APIGatewayProxyEvent } from 'aws-lambda';
import { expect, test } from 'vitest';
import { sessionCookie, sessionCookieValue } from '../../lambdas/registration/http.ts';
import { registrationPageLocation } from '../../lambdas/registration/page-location.ts';

const event = (headers: Record<string, string>) => ({ headers }) as unknown as APIGatewayProxyEvent;
const SESSION = 'A'.repeat(43);
const PRODUCT = 'prod-abc123';
const COOKIE = `__Host-mp_registration_${PRODUCT}`;

test('behind API Gateway (HTTPS) the session cookie is Secure and __Host- prefixed, so no other host can set it', () => {
  const https = event({ 'X-Forwarded-Proto': 'https' });
  expect(sessionCookie(https, PRODUCT, SESSION, 3600)).toBe(
    `${COOKIE}=${SESSION}; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax; Secure`,
  );
  // API Gateway always sets the header; its absence is treated as HTTPS too, never as a reason to drop Secure.
  expect(sessionCookie(event({}), PRODUCT, SESSION, 60)).toContain('; Secure');
  expect(sessionCookieValue(event({ 'x-forwarded-proto': 'https', cookie: `${COOKIE}=${SESSION}` }), PRODUCT)).toEqual({
    state: 'present',
    value: SESSION,
  });
  // The unprefixed name is not the HTTPS cookie.
  const unprefixed = event({ 'x-forwarded-proto': 'https', cookie: `mp_registration_${PRODUCT}=${SESSION}` });
  expect(sessionCookieValue(unprefixed, PRODUCT)).toEqual({ state: 'absent' });
  expect(sessionCookieValue(unprefixed, undefined)).toEqual({ state: 'absent' });
});

test('over plain HTTP (the local gateway) the cookie has neither Secure nor the prefix, which HTTP cannot carry', () => {
  const http = event({ 'x-forwarded-proto': 'http' });
  expect(sessionCookie(http, PRODUCT, SESSION, 60)).toBe(
    `mp_registration_${PRODUCT}=${SESSION}; Max-Age=60; Path=/; HttpOnly; SameSite=Lax`,
  );
});

test("one session per product: two products set up at once keep both, each read by the page's product", () => {
  const both = event({ 'x-forwarded-proto': 'https', cookie: `${COOKIE}=${SESSION}; __Host-mp_registration_other=b` });
  expect(sessionCookieValue(both, PRODUCT)).toEqual({ state: 'present', value: SESSION });
  expect(sessionCookieValue(both, 'other')).toEqual({ state: 'present', value: 'b' });
  expect(sessionCookieValue(both, 'third')).toEqual({ state: 'absent' });
  // An address that names no product reads the one session there is, and cannot choose between two.
  expect(sessionCookieValue(both, undefined)).toEqual({ state: 'ambiguous' });
  const one = event({ 'x-forwarded-proto': 'https', cookie: `theme=dark; ${COOKIE}=${SESSION}` });
  expect(sessionCookieValue(one, undefined)).toEqual({ state: 'present', value: SESSION });
  // Product codes may hold characters a cookie name may not: encoded so that no two share a cookie.
  const names = ['a.b', 'a_b', 'a/b', 'a_2eb'].map((code) => sessionCookie(event({}), code, SESSION, 60).split('=')[0]);
  expect(names).toEqual([
    '__Host-mp_registration_a_2eb',
    '__Host-mp_registration_a_5fb',
    '__Host-mp_registration_a_2fb',
    '__Host-mp_registration_a_5f2eb',
  ]);
  // The page's address names the product, URL-encoded, and nothing secret.
  expect(registrationPageLocation({ path: '/fulfillment' }, PRODUCT)).toBe(`register?product=${PRODUCT}`);
  expect(registrationPageLocation({ path: '/fulfillment/' }, 'a b')).toBe('../register?product=a+b');
  expect(registrationPageLocation({ path: '/register' }, undefined)).toBe('register');
});

test('two session cookies of one name (one planted for a parent domain) are ambiguous, not "the first one"', () => {
  const doubled = event({ 'x-forwarded-proto': 'https', cookie: `${COOKIE}=a; other=1; ${COOKIE}=b` });
  expect(sessionCookieValue(doubled, PRODUCT)).toEqual({ state: 'ambiguous' });
  expect(sessionCookieValue(event({ 'x-forwarded-proto': 'https', cookie: 'other=1' }), PRODUCT)).toEqual({
    state: 'absent',
  });
});

test('session cookies in two header lines (or two spellings of its name) are ambiguous too, whichever comes last', () => {
  const lines = (first: string, second: string) =>
    ({
      headers: { 'x-forwarded-proto': 'https', cookie: second },
      multiValueHeaders: { 'x-forwarded-proto': ['https'], cookie: [first, second] },
    }) as unknown as APIGatewayProxyEvent;
  expect(sessionCookieValue(lines(`${COOKIE}=${SESSION}`, `${COOKIE}=planted`), PRODUCT)).toEqual({
    state: 'ambiguous',
  });
  expect(sessionCookieValue(lines(`${COOKIE}=planted`, `${COOKIE}=${SESSION}`), PRODUCT)).toEqual({
    state: 'ambiguous',
  });
  const spellings = {
    headers: { 'x-forwarded-proto': 'https', Cookie: `${COOKIE}=${SESSION}` },
    multiValueHeaders: { Cookie: [`${COOKIE}=${SESSION}`], cookie: [`${COOKIE}=planted`] },
  } as unknown as APIGatewayProxyEvent;
  expect(sessionCookieValue(spellings, PRODUCT)).toEqual({ state: 'ambiguous' });
  // One line with one session cookie beside others is still the session.
  expect(sessionCookieValue(lines('theme=dark', `${COOKIE}=${SESSION}`), PRODUCT)).toEqual({
    state: 'present',
    value: SESSION,
  });
});
