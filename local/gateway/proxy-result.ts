/**
 * A function's result turned into the HTTP answer, as API Gateway's proxy integration does it, or refused the way
 * API Gateway refuses it ("Execution failed due to configuration error: Malformed Lambda proxy response", 502).
 *
 * Verified in the developer guide ("Output format of a Lambda function for proxy integration"): the five fields;
 * `headers` and `multiValueHeaders` merged, a name in both taking the `multiValueHeaders` values; a body with
 * `isBase64Encoded` decoded to binary; any other shape 502. From captures and LocalStack's parity-tested validation:
 * no field is required (`statusCode` defaults to 200), no other field is allowed, `body` must be a string, a
 * `multiValueHeaders` value must be a list (brefphp/bref#534), `Content-Type` defaults to `application/json`, and a
 * `null` Content-Type suppresses that default (aws/aws-sam-cli#1218).
 *
 * Locally the body is always decoded from base64 when the result says so. API Gateway does that only when the
 * request's first `Accept` type matches the API's binaryMediaTypes (otherwise the client gets the base64 text), so
 * the deployed API must list the binary types its functions return.
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { HeaderLine, HttpAnswer } from './http-answer.ts';
import { LocalStackError } from '../errors.ts';

export class MalformedProxyResultError extends LocalStackError {
  override readonly name = 'MalformedProxyResultError';

  constructor(reason: string, options?: ErrorOptions) {
    super(`Malformed Lambda proxy response: ${reason}`, options);
  }
}

/** API_CONFIGURATION_ERROR: the result says its body is base64, and it is not. */
export class Base64BodyError extends LocalStackError {
  override readonly name = 'Base64BodyError';

  constructor() {
    super('the result has isBase64Encoded: true, but its body is not base64');
  }
}

const proxyResultFields = new Set(['statusCode', 'headers', 'multiValueHeaders', 'body', 'isBase64Encoded']);
/**
 * Headers that frame the HTTP exchange itself: API Gateway answers with its own and passes the function's on renamed
 * `x-amzn-Remapped-<name>` (the developer guide's list of remapped headers).
 */
const remappedHeaders = new Set(['connection', 'content-length', 'transfer-encoding']);
const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** @param result the function's result as API Gateway receives it: parsed JSON. */
export function answerFromProxyResult(result: unknown): HttpAnswer {
  if (!isJsonObject(result)) throw new MalformedProxyResultError(`the result is ${describe(result)}, not an object`);
  const unknownField = Object.keys(result).find((field) => !proxyResultFields.has(field));
  if (unknownField !== undefined) throw new MalformedProxyResultError(`"${unknownField}" is not a proxy result field`);
  const { statusCode, headers, multiValueHeaders, body, isBase64Encoded } = result;
  return {
    statusCode: parseStatusCode(statusCode),
    headers: mergedHeaders(headers, multiValueHeaders),
    body: parseBody(body, isBase64Encoded),
  };
}

function parseStatusCode(statusCode: unknown): number {
  if (statusCode === undefined || statusCode === null) return 200;
  const code = typeof statusCode === 'string' && /^\d+$/.test(statusCode) ? Number(statusCode) : statusCode;
  // The range HTTP/1.1 can carry in a status line.
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 100 || code > 999) {
    throw new MalformedProxyResultError(`statusCode ${JSON.stringify(statusCode)} is not an HTTP status code`);
  }
  return code;
}

function parseBody(body: unknown, isBase64Encoded: unknown): Buffer {
  if (isBase64Encoded !== undefined && isBase64Encoded !== null && typeof isBase64Encoded !== 'boolean') {
    throw new MalformedProxyResultError(`isBase64Encoded is ${describe(isBase64Encoded)}, not a boolean`);
  }
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body !== 'string') throw new MalformedProxyResultError(`body is ${describe(body)}, not a string`);
  if (isBase64Encoded !== true) return Buffer.from(body, 'utf8');
  if (!base64.test(body)) throw new Base64BodyError();
  return Buffer.from(body, 'base64');
}

function mergedHeaders(headers: unknown, multiValueHeaders: unknown): HeaderLine[] {
  const merged = new Map<string, (string | null)[]>();
  for (const [name, value] of Object.entries(headerMap(headers, 'headers'))) {
    merged.set(name, [headerValue(name, value)]);
  }
  for (const [name, values] of Object.entries(headerMap(multiValueHeaders, 'multiValueHeaders'))) {
    if (!Array.isArray(values)) throw new MalformedProxyResultError(`multiValueHeaders["${name}"] is not a list`);
    merged.set(
      name,
      values.map((value) => headerValue(name, value)),
    );
  }
  const lines: HeaderLine[] = [];
  for (const [name, values] of merged) {
    const sentName = remappedHeaders.has(name.toLowerCase()) ? `x-amzn-Remapped-${name}` : name;
    for (const value of values) if (value !== null) lines.push([sentName, value]);
  }
  if (![...merged.keys()].some((name) => name.toLowerCase() === 'content-type')) {
    lines.unshift(['Content-Type', 'application/json']);
  }
  return lines;
}

function headerMap(headers: unknown, field: string): Record<string, unknown> {
  if (headers === undefined || headers === null) return {};
  if (!isJsonObject(headers)) throw new MalformedProxyResultError(`${field} is ${describe(headers)}, not an object`);
  return headers;
}

/** A header value as sent; `null` for a header the function explicitly left out. */
function headerValue(name: string, value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new MalformedProxyResultError(`header "${name}" has the value ${describe(value)}`);
  }
  try {
    validateHeaderName(name);
    validateHeaderValue(name, String(value));
  } catch (error) {
    throw new MalformedProxyResultError(`header "${name}" is not a valid HTTP header`, { cause: error });
  }
  return String(value);
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `the ${typeof value} ${JSON.stringify(value)}`;
}
