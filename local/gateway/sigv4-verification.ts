/**
 * IAM authorization of a method (`AWS_IAM`), as far as it can go without IAM: the request must carry a Signature
 * Version 4 `Authorization` header for `execute-api`, dated within 5 minutes of now, with `host` among the signed
 * headers, whose signature is the one the caller's secret access key makes. Locally there is one secret (the local
 * stack's) and any access key id goes with it; there are no policies, so a valid signature is allowed to invoke.
 *
 * The canonical request, string to sign and signing key follow AWS's "Signature Version 4" specification (IAM user
 * guide, "Create a signed AWS API request"), for a service other than S3: the path normalized and percent-encoded a
 * second time, query parameters sorted, signed headers trimmed and joined, the body's SHA-256. The refusals are API
 * Gateway's (see `gateway-responses.ts`).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  incompleteSignature,
  invalidSignature,
  missingAuthenticationToken,
  signatureMismatch,
} from './gateway-responses.ts';
import type { HttpAnswer } from './http-answer.ts';

export interface IamAuthorization {
  /** The secret access key every caller signs with; any access key id goes with it. */
  readonly secretAccessKey: string;
  /** The API's region, which a signature must be scoped to, as in AWS. */
  readonly region: string;
  /**
   * The clocks a signature's date is checked against: within 5 minutes of any one of them is current. Locally the
   * stack's time (the simulator's, which tests move) and the machine's can differ; a caller may sign with either.
   */
  readonly clocks: readonly SigningClock[];
}

/**
 * A clock a signature's date is checked against. One that jumps (the simulator's, moved forward hours in a second)
 * says what it showed lately: a date within 5 minutes of any of that is current too, as the caller read it just now.
 */
export interface SigningClock {
  now(): Date;
  recentlyShown?(): readonly ShownSpan[];
}

interface ShownSpan {
  readonly earliest: Date;
  readonly latest: Date;
}

export type SignatureVerdict =
  { readonly kind: 'signed'; readonly accessKeyId: string } | { readonly kind: 'refused'; readonly answer: HttpAnswer };

const ALGORITHM = 'AWS4-HMAC-SHA256';
const SERVICE = 'execute-api';
/** How far a signature's date may be from now, either way. */
const ALLOWED_SKEW_MS = 5 * 60_000;

interface AuthorizationHeader {
  readonly accessKeyId: string;
  readonly scopeDate: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

export function verifySignature(request: IncomingMessage, body: Buffer, iam: IamAuthorization): SignatureVerdict {
  const header = request.headers.authorization;
  if (header === undefined || header.trim() === '') return refused(missingAuthenticationToken());
  const amzDate = signingDate(request);
  const parsed = parseAuthorization(header);
  if (parsed.missing.length > 0 || amzDate === undefined) {
    const requirements = [
      ...parsed.missing.map((part) => `Authorization header requires '${part}' parameter.`),
      ...(amzDate === undefined
        ? ["Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."]
        : []),
    ];
    return refused(incompleteSignature(`${requirements.join(' ')} Authorization=${header}`));
  }
  const authorization = parsed.authorization!;
  // The host must be signed, or a captured signature would be good for any host: AWS refuses it first.
  if (!authorization.signedHeaders.includes('host')) {
    return refused(incompleteSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."));
  }
  // API Gateway's words, both when both are wrong.
  const scopeProblems = [
    ...(authorization.region === iam.region
      ? []
      : [`Credential should be scoped to a valid region, not '${authorization.region}'. `]),
    ...(authorization.service === SERVICE ? [] : [`Credential should be scoped to correct service: '${SERVICE}'. `]),
  ];
  if (scopeProblems.length > 0) return refused(invalidSignature(scopeProblems.join('')));
  if (authorization.scopeDate !== amzDate.slice(0, 8)) {
    return refused(
      invalidSignature(
        `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: ` +
          `'${authorization.scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
      ),
    );
  }
  const skew = skewProblem(amzDate, iam.clocks);
  if (skew !== undefined) return refused(invalidSignature(skew));

  const canonicalRequest = canonicalRequestOf(request, body, authorization.signedHeaders);
  const scope = `${authorization.scopeDate}/${authorization.region}/${SERVICE}/aws4_request`;
  const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const expected = signatureOf(stringToSign, iam.secretAccessKey, authorization);
  if (!sameHex(expected, authorization.signature)) {
    return refused(signatureMismatch(canonicalRequest, stringToSign));
  }
  return { kind: 'signed', accessKeyId: authorization.accessKeyId };
}

function refused(answer: HttpAnswer): SignatureVerdict {
  return { kind: 'refused', answer };
}

/** The parts of `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`, and the names of those missing. */
function parseAuthorization(header: string): { authorization?: AuthorizationHeader; missing: string[] } {
  const trimmed = header.trim();
  const fields = new Map<string, string>();
  if (trimmed.startsWith(`${ALGORITHM} `)) {
    for (const part of trimmed.slice(ALGORITHM.length).split(',')) {
      const separator = part.indexOf('=');
      if (separator > 0) fields.set(part.slice(0, separator).trim(), part.slice(separator + 1).trim());
    }
  }
  const credential = fields.get('Credential')?.split('/');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  const missing = [
    ...(credential?.length === 5 && credential[4] === 'aws4_request' ? [] : ['Credential']),
    ...(signature ? [] : ['Signature']),
    ...(signedHeaders ? [] : ['SignedHeaders']),
  ];
  if (missing.length > 0) return { missing };
  const [accessKeyId, scopeDate, region, service] = credential as [string, string, string, string];
  return {
    authorization: {
      accessKeyId,
      scopeDate,
      region,
      service,
      signedHeaders: signedHeaders!.toLowerCase().split(';'),
      signature: signature!,
    },
    missing,
  };
}

/** The request's signing date in SigV4's basic ISO 8601 form (`20261126T123456Z`): `X-Amz-Date`, else `Date`. */
function signingDate(request: IncomingMessage): string | undefined {
  const amzDate = request.headers['x-amz-date'];
  if (typeof amzDate === 'string' && /^\d{8}T\d{6}Z$/.test(amzDate)) return amzDate;
  const date = request.headers.date;
  if (date === undefined || Number.isNaN(Date.parse(date))) return undefined;
  return basicIsoTime(new Date(date));
}

/** API Gateway's message when the date is more than 5 minutes from every clock; undefined when it is current. */
function skewProblem(amzDate: string, clocks: IamAuthorization['clocks']): string | undefined {
  const signedAt = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  const spans = clocks.flatMap((clock) => clock.recentlyShown?.() ?? [{ earliest: clock.now(), latest: clock.now() }]);
  const current = (span: ShownSpan) =>
    signedAt >= span.earliest.getTime() - ALLOWED_SKEW_MS && signedAt <= span.latest.getTime() + ALLOWED_SKEW_MS;
  if (spans.some(current)) return undefined;
  const now = clocks[0]?.now().getTime() ?? Date.now();
  const time = (ms: number) => basicIsoTime(new Date(ms));
  return signedAt < now
    ? `Signature expired: ${amzDate} is now earlier than ${time(now - ALLOWED_SKEW_MS)} (${time(now)} - 5 min.)`
    : `Signature not yet current: ${amzDate} is still later than ${time(now + ALLOWED_SKEW_MS)} (${time(now)} + 5 min.)`;
}

function basicIsoTime(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function canonicalRequestOf(request: IncomingMessage, body: Buffer, signedHeaders: readonly string[]): string {
  const target = request.url ?? '/';
  const queryStart = target.indexOf('?');
  const path = queryStart === -1 ? target : target.slice(0, queryStart);
  const query = queryStart === -1 ? '' : target.slice(queryStart + 1);
  const headerLines = signedHeaders.map((name) => `${name}:${headerValue(request, name)}\n`).join('');
  return [
    request.method ?? '',
    canonicalPath(path),
    canonicalQuery(query),
    headerLines,
    signedHeaders.join(';'),
    sha256Hex(body),
  ].join('\n');
}

/** RFC 3986's dot segments and empty segments removed, then every segment percent-encoded once more. */
function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailingSlash = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `/${segments.map(uriEncode).join('/')}${trailingSlash}`;
}

/** Each name and value decoded, then encoded the one way SigV4 allows, sorted by name and then value. */
function canonicalQuery(query: string): string {
  if (query === '') return '';
  return query
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const separator = pair.indexOf('=');
      const name = separator === -1 ? pair : pair.slice(0, separator);
      const value = separator === -1 ? '' : pair.slice(separator + 1);
      return [uriEncode(decoded(name)), uriEncode(decoded(value))] as const;
    })
    .sort(([nameA, valueA], [nameB, valueB]) => compare(nameA, nameB) || compare(valueA, valueB))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** SigV4's encoding: every byte but A-Z a-z 0-9 - . _ ~ as %XY, upper case. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The header's values, each trimmed with inner runs of spaces made one, joined by commas. */
function headerValue(request: IncomingMessage, name: string): string {
  const values = request.headersDistinct[name] ?? [];
  return values.map((value) => value.trim().replace(/\s+/g, ' ')).join(',');
}

function signatureOf(stringToSign: string, secretAccessKey: string, authorization: AuthorizationHeader): string {
  const key = [authorization.scopeDate, authorization.region, SERVICE, 'aws4_request'].reduce<Buffer>(
    (previous, part) => hmac(previous, part),
    Buffer.from(`AWS4${secretAccessKey}`),
  );
  return hmac(key, stringToSign).toString('hex');
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function sameHex(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given.toLowerCase());
  return a.length === b.length && timingSafeEqual(a, b);
}
