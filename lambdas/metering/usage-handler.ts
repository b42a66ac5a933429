/**
 * `POST /usage` (IAM-authorized): the seller's app records usage, `{"events": [...]}` of at most 50 events, and gets
 * one result per event, in order (`accepted`, `duplicate`, or `rejected` with a reason). A request that cannot be read
 * is answered 4xx with what is wrong; one DynamoDB could not take is answered 503 with `Retry-After`, and nothing of it
 * was recorded, so sending it again is safe. One whose write DynamoDB never answered is answered 504: it may have been
 * recorded, so it may be sent again only with event ids (then answered `duplicate` if it was).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import * as z from 'zod';
import type { Clock } from '../core/clock.ts';
import { correlateWithApiRequest, header } from '../core/api-request.ts';
import { firstDuplicateKey } from '../core/duplicate-json-keys.ts';
import { jsonAnswer as json, tryAgainAnswer } from '../core/json-answer.ts';
import {
  type UsageEventResult,
  recordUsage,
  UsageBatchTooLargeError,
  UsageOutcomeUnknownError,
  type UsageRecorderDependencies,
} from '../core/metering/recording/index.ts';

export interface UsageHandlerDependencies extends UsageRecorderDependencies {
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * The largest body taken. The largest valid request (50 events, every field at its longest, every character one that
 * JSON escapes) is about 430 KB; larger is not a usage report, and is refused before it is parsed.
 */
export const MAX_USAGE_BODY_BYTES = 512 * 1024;

const bodySchema = z.strictObject({ events: z.array(z.unknown()) });

function isJson(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'application/json';
}

/** The `charset` a content type names, if any, lower-cased and unquoted. */
function charsetOf(contentType: string): string | undefined {
  for (const parameter of contentType.split(';').slice(1)) {
    const [name, value = ''] = parameter.split('=');
    if (name?.trim().toLowerCase() === 'charset') return value.trim().replace(/^"|"$/g, '').toLowerCase();
  }
  return undefined;
}

/** The 415 for a JSON body not sent in a form this API reads: JSON is UTF-8 (RFC 8259), and sent uncompressed. */
function unreadableEncoding(event: APIGatewayProxyEvent, contentType: string): APIGatewayProxyResult | undefined {
  const charset = charsetOf(contentType);
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    return json(415, { message: `Send the events as UTF-8 JSON (this body says charset=${charset.slice(0, 40)})` });
  }
  const encoding = header(event, 'content-encoding')?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    return json(
      415,
      { message: `Send the body uncompressed (Content-Encoding ${encoding.slice(0, 40)} is not taken)` },
      { 'accept-encoding': 'identity' },
    );
  }
  return undefined;
}

/** What API Gateway puts in place of each byte of a text body that is not UTF-8. */
const REPLACEMENT_CHARACTER = '\uFFFD';

/** The body as text, or the answer that refuses it. API Gateway passes a body base64-encoded when it is binary. */
function bodyText(event: APIGatewayProxyEvent): { text: string } | { refusal: APIGatewayProxyResult } {
  const raw = event.body ?? '';
  const tooLarge = {
    refusal: json(413, { message: `The body must be at most ${MAX_USAGE_BODY_BYTES} bytes` }),
  };
  const notUtf8 = {
    refusal: json(400, {
      message: 'The body must be UTF-8 (it holds bytes that are not, or U+FFFD, which stands for them)',
    }),
  };
  let text: string;
  if (event.isBase64Encoded) {
    // Four base64 characters per three bytes: a longer text decodes to too many bytes, and is not decoded at all.
    if (raw.length > Math.ceil(MAX_USAGE_BODY_BYTES / 3) * 4) return tooLarge;
    const bytes = Buffer.from(raw, 'base64');
    if (bytes.length > MAX_USAGE_BODY_BYTES) return tooLarge;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return notUtf8;
    }
  } else {
    if (Buffer.byteLength(raw, 'utf8') > MAX_USAGE_BODY_BYTES) return tooLarge;
    text = raw;
  }
  // A text body holding it had bytes that are not UTF-8, and no field takes it: refused alike, however it came.
  return text.includes(REPLACEMENT_CHARACTER) ? notUtf8 : { text };
}

function parseEvents(text: string): { events: unknown[] } | { refusal: APIGatewayProxyResult } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { refusal: json(400, { message: 'The body is not valid JSON' }) };
  }
  const duplicate = firstDuplicateKey(text);
  if (duplicate !== undefined) {
    const named = duplicate.length <= 64 ? JSON.stringify(duplicate) : 'a key';
    return { refusal: json(400, { message: `The body holds ${named} twice in one object: send each field once` }) };
  }
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) {
    return {
      refusal: json(400, { message: 'The body must be an object with one field, "events": an array of events' }),
    };
  }
  return { events: parsed.data.events };
}

/** How many events had each outcome: what a log line may say about a request (never the events themselves). */
function outcomes(results: readonly UsageEventResult[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const result of results) {
    const outcome =
      result.status === 'rejected'
        ? `rejected:${result.reason}`
        : result.status === 'accepted' && result.carriedFrom !== undefined
          ? 'accepted:carried'
          : result.status;
    counts[outcome] = (counts[outcome] ?? 0) + 1;
  }
  return counts;
}

/** The answer to a call whose write DynamoDB never answered: what the app may do with it. */
export const OUTCOME_UNKNOWN =
  'The database did not answer whether this call was recorded. Send it again only as it was, with its event ids ' +
  '(answered duplicate if it was recorded): events without an eventId would be counted twice.';

export function createUsageHandler(dependencies: UsageHandlerDependencies) {
  const { logger, clock } = dependencies;
  return async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
    correlateWithApiRequest(logger, event);
    if (event.httpMethod !== 'POST') return json(405, { message: 'Use POST' }, { allow: 'POST' });
    const contentType = header(event, 'content-type');
    if (contentType === undefined || !isJson(contentType)) {
      return json(415, { message: 'Send the events as application/json' });
    }
    const encodingRefusal = unreadableEncoding(event, contentType);
    if (encodingRefusal !== undefined) return encodingRefusal;
    const body = bodyText(event);
    if ('refusal' in body) return body.refusal;
    const request = parseEvents(body.text);
    if ('refusal' in request) return request.refusal;
    try {
      const results = await recordUsage(dependencies, request.events, clock.now());
      logger.info('Usage recorded', { events: results.length, outcomes: outcomes(results) });
      return json(200, { results });
    } catch (error) {
      if (error instanceof UsageBatchTooLargeError) return json(400, { message: error.message });
      const unknown = error instanceof UsageOutcomeUnknownError;
      logger.error(unknown ? 'Usage may or may not have been recorded' : 'Usage could not be recorded', {
        errorName: error instanceof Error ? error.name : 'unknown',
        causeName: error instanceof Error && error.cause instanceof Error ? error.cause.name : undefined,
        events: request.events.length,
      });
      return unknown ? json(504, { message: OUTCOME_UNKNOWN }) : tryAgainAnswer();
    }
  };
}
