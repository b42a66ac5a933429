import { expect, test } from 'vitest';
import { answerFromProxyResult, Base64BodyError, MalformedProxyResultError } from '../../local/gateway/proxy-result.ts';

test('every field is optional: an empty result is a 200 with no body and a JSON content type', () => {
  expect(answerFromProxyResult({})).toEqual({
    statusCode: 200,
    headers: [['Content-Type', 'application/json']],
    body: Buffer.alloc(0),
  });
});

test('a status code may be a numeric string', () => {
  expect(answerFromProxyResult({ statusCode: '201' }).statusCode).toBe(201);
});

test('a null header is left out, and a null Content-Type suppresses the default', () => {
  const { headers } = answerFromProxyResult({ headers: { 'Content-Type': null, 'X-Gone': null, 'X-Count': 3 } });
  expect(headers).toEqual([['X-Count', '3']]);
});

test('a name in both headers and multiValueHeaders takes the multiValueHeaders values only', () => {
  const { headers } = answerFromProxyResult({
    headers: { Vary: 'Accept', 'X-Single': 'one' },
    multiValueHeaders: { Vary: ['Origin', 'Cookie'] },
  });
  expect(headers).toEqual([
    ['Content-Type', 'application/json'],
    ['Vary', 'Origin'],
    ['Vary', 'Cookie'],
    ['X-Single', 'one'],
  ]);
});

test('headers that frame the HTTP exchange are passed on remapped, never as the real ones', () => {
  const { headers } = answerFromProxyResult({
    headers: { 'Content-Length': '999', Connection: 'close', 'Content-Type': 'text/plain' },
  });
  expect(headers).toEqual([
    ['x-amzn-Remapped-Content-Length', '999'],
    ['x-amzn-Remapped-Connection', 'close'],
    ['Content-Type', 'text/plain'],
  ]);
});

test.each([
  ['a list', []],
  ['a string', 'ok'],
  ['an object body', { body: { a: 1 } }],
  ['an unknown field', { body: '', message: 'x' }],
  ['a header object value', { headers: { 'X-A': { b: 1 } } }],
  ['a header value with a line break', { headers: { 'X-A': 'b\r\nSet-Cookie: evil=1' } }],
  ['a header name that is not a token', { headers: { 'X A': 'b' } }],
  ['a multiValueHeaders string', { multiValueHeaders: { 'X-A': 'b' } }],
  ['a status code below 100', { statusCode: 42 }],
  ['a fractional status code', { statusCode: 200.5 }],
  ['isBase64Encoded as a string', { body: 'YQ==', isBase64Encoded: 'true' }],
])('%s is a malformed proxy result', (_what, result) => {
  expect(() => answerFromProxyResult(result)).toThrow(MalformedProxyResultError);
});

test('a base64 body is decoded; one that is not base64 is an API configuration error', () => {
  expect(answerFromProxyResult({ body: 'AAH/', isBase64Encoded: true }).body).toEqual(Buffer.from([0, 1, 255]));
  expect(() => answerFromProxyResult({ body: 'AAH', isBase64Encoded: true })).toThrow(Base64BodyError);
});
