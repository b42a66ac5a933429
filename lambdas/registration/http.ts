/**
 * What the registration functions need from an API Gateway proxy event and for their answers: the body (plain or
 * base64, as API Gateway may pass either), headers and cookies, and HTML responses that always carry the security
 * headers.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { createHash } from 'node:crypto';
import type { SafeHtml } from './html.ts';
import { header } from '../core/api-request.ts';
import { BackendError } from '../core/errors.ts';

const SESSION_COOKIE = 'mp_registration';

/**
 * The session cookie's name: one per product, so that a buyer setting up two products at once (two tabs) keeps both
 * sessions. Over HTTPS (always, behind API Gateway) it carries the `__Host-` prefix, so that no other host of the
 * domain (a sibling subdomain) can plant or override it; plain HTTP (the local gateway) cannot use the prefix.
 */
function sessionCookieName(event: APIGatewayProxyEvent, productCode: string): string {
  // A product code may hold characters a cookie name may not (`/=:@`): each character but a letter, digit or hyphen
  // becomes `_` and its code in hex, so that no two product codes share a name.
  const encoded = productCode.replace(/[^A-Za-z0-9-]/g, (character) => `_${character.charCodeAt(0).toString(16)}`);
  return `${cookiePrefix(event)}${SESSION_COOKIE}_${encoded}`;
}

function cookiePrefix(event: APIGatewayProxyEvent): string {
  return isHttps(event) ? '__Host-' : '';
}

/** A registration form is one token and a few short fields; anything much larger is not from a browser filling it. */
export const MAX_FORM_BYTES = 16 * 1024;

/** A request the handler refuses before doing anything with it. */
export class BadRequestError extends BackendError {
  override readonly name = 'BadRequestError';

  constructor(
    readonly status: 400 | 413 | 415,
    readonly reason: 'content-type' | 'too-large' | 'encoding',
    options?: ErrorOptions,
  ) {
    super(`Bad request: ${reason}`, options);
  }
}

/**
 * Every value of a header, however many lines (and spellings of its name) carried it: API Gateway keeps them all in
 * `multiValueHeaders`, while `headers` holds only the last.
 */
function headerValues(event: APIGatewayProxyEvent, name: string): string[] {
  const wanted = name.toLowerCase();
  const all = Object.entries(event.multiValueHeaders ?? {})
    .filter(([key]) => key.toLowerCase() === wanted)
    .flatMap(([, values]) => values ?? []);
  if (all.length > 0) return all;
  const last = header(event, name);
  return last === undefined ? [] : [last];
}

/** The form fields of a `application/x-www-form-urlencoded` POST no larger than `maxBytes`. */
export function formFields(event: APIGatewayProxyEvent, maxBytes = MAX_FORM_BYTES): URLSearchParams {
  const contentType = header(event, 'content-type') ?? '';
  if (contentType.split(';')[0]?.trim().toLowerCase() !== 'application/x-www-form-urlencoded') {
    throw new BadRequestError(415, 'content-type');
  }
  const raw = event.body ?? '';
  const body = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (body.length > maxBytes) throw new BadRequestError(413, 'too-large');
  const text = new TextDecoder('utf-8', { fatal: true });
  try {
    return new URLSearchParams(text.decode(body));
  } catch (error) {
    throw new BadRequestError(400, 'encoding', { cause: error });
  }
}

/**
 * The session cookie the browser sent for `productCode` (the product the registration page's address names):
 * `absent`, or its value. Without a product, the one session cookie of any product. Two cookies of one name (one
 * planted for a parent domain beside ours) cannot be told apart, nor, without a product, two sessions: either is
 * `ambiguous`, no valid session.
 */
export function sessionCookieValue(
  event: APIGatewayProxyEvent,
  productCode: string | undefined,
):
  | { readonly state: 'absent' }
  | { readonly state: 'ambiguous' }
  | { readonly state: 'present'; readonly value: string } {
  const anySession = `${cookiePrefix(event)}${SESSION_COOKIE}`;
  const wanted =
    productCode === undefined
      ? (name: string) => name === anySession || name.startsWith(`${anySession}_`)
      : (name: string) => name === sessionCookieName(event, productCode);
  // Browsers may send cookies in several header lines (HTTP/2 does): every line counts, or a second cookie of the name
  // planted beside ours would go unseen in one of them.
  const values = headerValues(event, 'cookie')
    .flatMap((line) => line.split(';'))
    .map((part) => part.trim())
    .map((part) => ({ name: part.slice(0, Math.max(0, part.indexOf('='))), value: part.slice(part.indexOf('=') + 1) }))
    .filter((cookie) => wanted(cookie.name))
    .map((cookie) => cookie.value);
  if (values.length === 0) return { state: 'absent' };
  if (values.length > 1) return { state: 'ambiguous' };
  return { state: 'present', value: values[0]! };
}

/** Behind API Gateway every request is HTTPS; the local gateway speaks plain HTTP and says so. */
function isHttps(event: APIGatewayProxyEvent): boolean {
  return (header(event, 'x-forwarded-proto') ?? 'https') === 'https';
}

/**
 * `SameSite=Lax`: Marketplace's POST is cross-site, and the 303 GET that follows is a top-level navigation, on which
 * Lax cookies are sent (Strict ones are not); a cross-site POST to the registration form gets no cookie at all.
 */
export function sessionCookie(
  event: APIGatewayProxyEvent,
  productCode: string,
  sessionId: string,
  maxAgeSeconds: number,
): string {
  const secure = isHttps(event) ? '; Secure' : '';
  const name = sessionCookieName(event, productCode);
  return `${name}=${sessionId}; Max-Age=${maxAgeSeconds}; Path=/; HttpOnly; SameSite=Lax${secure}`;
}

export interface PagePolicy {
  /** Origins pages may load images from (the seller's logo). */
  readonly imageOrigins: readonly string[];
  /** Origins a form submission may end up on besides this one (a redirect after the registration form). */
  readonly formTargets: readonly string[];
}

/** The page's one stylesheet is inline; the policy admits it by hash and nothing else. */
export function securityHeaders(stylesheet: string, policy: PagePolicy): Record<string, string> {
  const styleHash = createHash('sha256').update(stylesheet).digest('base64');
  return {
    'content-security-policy': [
      "default-src 'none'",
      `style-src 'sha256-${styleHash}'`,
      `img-src ${policy.imageOrigins.length > 0 ? policy.imageOrigins.join(' ') : "'none'"}`,
      `form-action 'self' ${policy.formTargets.join(' ')}`.trim(),
      "base-uri 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'strict-transport-security': 'max-age=63072000; includeSubDomains',
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
    'cross-origin-opener-policy': 'same-origin',
    'cache-control': 'no-store',
  };
}

/** `Set-Cookie` may repeat, so it travels in `multiValueHeaders`. */
function setCookies(cookies: readonly string[]): Pick<APIGatewayProxyResult, 'multiValueHeaders'> {
  return cookies.length > 0 ? { multiValueHeaders: { 'set-cookie': [...cookies] } } : {};
}

export function htmlResponse(
  statusCode: number,
  page: SafeHtml,
  headers: Record<string, string>,
  cookies: readonly string[] = [],
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { ...headers, 'content-type': 'text/html; charset=utf-8' },
    ...setCookies(cookies),
    body: page.text,
  };
}

/** 303 See Other: the browser follows with a GET, so a refresh never re-submits the form. */
export function seeOther(location: string, headers: Record<string, string>, cookies: readonly string[] = []) {
  return {
    statusCode: 303,
    headers: { ...headers, location },
    ...setCookies(cookies),
    body: '',
  } satisfies APIGatewayProxyResult;
}
