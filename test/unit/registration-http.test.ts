import type { APIGatewayProxyEvent } from 'aws-lambda';
import { expect, test } from 'vitest';
import { sessionCookie, sessionCookieValue } from '../../lambdas/registration/http.ts';

const event = (headers: Record<string, string>) => ({ headers }) as unknown as APIGatewayProxyEvent;
const SESSION = 'A'.repeat(43);

test('behind API Gateway (HTTPS) the session cookie is Secure and __Host- prefixed, so no other host can set it', () => {
  const https = event({ 'X-Forwarded-Proto': 'https' });
  expect(sessionCookie(https, SESSION, 3600)).toBe(
    `__Host-mp_registration=${SESSION}; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax; Secure`,
  );
  // API Gateway always sets the header; its absence is treated as HTTPS too, never as a reason to drop Secure.
  expect(sessionCookie(event({}), SESSION, 60)).toContain('; Secure');
  expect(
    sessionCookieValue(event({ 'x-forwarded-proto': 'https', cookie: `__Host-mp_registration=${SESSION}` })),
  ).toEqual({ state: 'present', value: SESSION });
  // The unprefixed name is not the HTTPS cookie.
  expect(sessionCookieValue(event({ 'x-forwarded-proto': 'https', cookie: `mp_registration=${SESSION}` }))).toEqual({
    state: 'absent',
  });
});

test('over plain HTTP (the local gateway) the cookie has neither Secure nor the prefix, which HTTP cannot carry', () => {
  const http = event({ 'x-forwarded-proto': 'http' });
  expect(sessionCookie(http, SESSION, 60)).toBe(
    `mp_registration=${SESSION}; Max-Age=60; Path=/; HttpOnly; SameSite=Lax`,
  );
});

test('two session cookies (one planted for a parent domain) are ambiguous, not "the first one"', () => {
  const doubled = event({
    'x-forwarded-proto': 'https',
    cookie: `__Host-mp_registration=a; other=1; __Host-mp_registration=b`,
  });
  expect(sessionCookieValue(doubled)).toEqual({ state: 'ambiguous' });
  expect(sessionCookieValue(event({ 'x-forwarded-proto': 'https', cookie: 'other=1' }))).toEqual({ state: 'absent' });
});

test('session cookies in two header lines (or two spellings of its name) are ambiguous too, whichever comes last', () => {
  const lines = (first: string, second: string) =>
    ({
      headers: { 'x-forwarded-proto': 'https', cookie: second },
      multiValueHeaders: { 'x-forwarded-proto': ['https'], cookie: [first, second] },
    }) as unknown as APIGatewayProxyEvent;
  expect(sessionCookieValue(lines(`__Host-mp_registration=${SESSION}`, '__Host-mp_registration=planted'))).toEqual({
    state: 'ambiguous',
  });
  expect(sessionCookieValue(lines('__Host-mp_registration=planted', `__Host-mp_registration=${SESSION}`))).toEqual({
    state: 'ambiguous',
  });
  const spellings = {
    headers: { 'x-forwarded-proto': 'https', Cookie: `__Host-mp_registration=${SESSION}` },
    multiValueHeaders: {
      Cookie: [`__Host-mp_registration=${SESSION}`],
      cookie: ['__Host-mp_registration=planted'],
    },
  } as unknown as APIGatewayProxyEvent;
  expect(sessionCookieValue(spellings)).toEqual({ state: 'ambiguous' });
  // One line with one session cookie beside others is still the session.
  expect(sessionCookieValue(lines('theme=dark', `__Host-mp_registration=${SESSION}`))).toEqual({
    state: 'present',
    value: SESSION,
  });
});
