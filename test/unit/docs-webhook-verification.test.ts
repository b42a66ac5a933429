import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signWebhook, verifyWebhookSignature } from '../../lambdas/core/webhook-signature.ts';

// The webhook page tells sellers how to verify the webhook's calls with a snippet of plain JavaScript. This runs that
// very snippet, taken from the page at test time, against the signatures the webhook makes, so that the two cannot drift.

const START = '<!-- webhook-verification:start -->';
const END = '<!-- webhook-verification:end -->';

type IsGenuineWebhookCall = (
  secret: string,
  signatureHeader: string | undefined,
  rawBody: string,
  nowMs?: number,
  toleranceSeconds?: number,
) => boolean;

/** The one ```js fenced block between the markers, or an error that says what is missing. */
function webhookVerificationSnippet(markdown: string): string {
  const lines = markdown.split(/\r?\n/);
  const start = lines.findIndex((line) => line.trim() === START);
  const end = lines.findIndex((line, index) => index > start && line.trim() === END);
  if (start === -1 || end === -1) {
    throw new Error(
      `docs/architecture/webhook.md must hold the webhook verification snippet between the lines "${START}" and "${END}"; ` +
        `${start === -1 ? 'the start marker' : 'the end marker after it'} is missing`,
    );
  }
  const block = /^```js\n([\s\S]*?)\n```$/m.exec(lines.slice(start + 1, end).join('\n'));
  if (block === null)
    throw new Error(`docs/architecture/webhook.md has no \`\`\`js fenced block between "${START}" and "${END}"`);
  return block[1]!;
}

describe('finding the snippet', () => {
  test('takes the fenced block between the markers', () => {
    expect(webhookVerificationSnippet(`x\n${START}\n\n\`\`\`js\nconst a = 1;\n\`\`\`\n\n${END}\n`)).toBe(
      'const a = 1;',
    );
  });

  test.each([
    ['no markers', 'text\n```js\nconst a = 1;\n```\n', 'the start marker is missing'],
    ['no end marker', `${START}\n\`\`\`js\nconst a = 1;\n\`\`\`\n`, 'the end marker after it is missing'],
    ['an end marker before the start', `${END}\n${START}\n\`\`\`js\nconst a = 1;\n\`\`\`\n`, 'the end marker'],
    ['no js block', `${START}\n\`\`\`ts\nconst a = 1;\n\`\`\`\n${END}\n`, 'no ```js fenced block'],
  ])('fails clearly on %s', (_name, markdown, message) => {
    expect(() => webhookVerificationSnippet(markdown)).toThrow(message);
  });
});

describe('the webhook verification snippet of the docs', () => {
  const SECRET = 'a3f1c0de9b8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392817065f4e';
  const BODY = '{"id":"evt-1","detail-type":"Subscriber Active","detail":{"status":"active","note":"héllo ✓"}}';
  const SIGNED_AT = new Date('2026-11-26T10:00:00.000Z');
  const T = SIGNED_AT.getTime() / 1000;
  const HEADER = signWebhook(SECRET, BODY, SIGNED_AT);
  const V1 = HEADER.slice(HEADER.indexOf('v1=') + 3);

  let directory: string | undefined;
  let isGenuineWebhookCall: IsGenuineWebhookCall;

  beforeAll(async () => {
    const snippet = webhookVerificationSnippet(
      await readFile(new URL('../../docs/architecture/webhook.md', import.meta.url), 'utf8'),
    );
    directory = await mkdtemp(join(tmpdir(), 'readme-webhook-verification-'));
    const file = join(directory, 'verify.mjs');
    await writeFile(file, snippet);
    const module = (await import(pathToFileURL(file).href)) as { isGenuineWebhookCall?: unknown };
    if (typeof module.isGenuineWebhookCall !== 'function') {
      throw new Error('The snippet must export a function isGenuineWebhookCall');
    }
    isGenuineWebhookCall = module.isGenuineWebhookCall as IsGenuineWebhookCall;
  });

  afterAll(async () => {
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  /** The snippet's verdict, checked to equal the project's own. */
  function verdict(header: string | undefined, body: string, now: Date, secret = SECRET, tolerance = 300): boolean {
    const readme = isGenuineWebhookCall(secret, header, body, now.getTime(), tolerance);
    expect(readme, 'the snippet and verifyWebhookSignature disagree').toBe(
      verifyWebhookSignature(secret, header, body, now, tolerance),
    );
    return readme;
  }

  function secondsAfter(seconds: number): Date {
    return new Date(SIGNED_AT.getTime() + seconds * 1000);
  }

  test('accepts a genuine call, also at the edges of the tolerance', () => {
    expect(verdict(HEADER, BODY, SIGNED_AT)).toBe(true);
    expect(verdict(HEADER, BODY, secondsAfter(300))).toBe(true);
    expect(verdict(HEADER, BODY, secondsAfter(-300))).toBe(true);
    expect(verdict(`v1=${V1},t=${T}`, BODY, SIGNED_AT)).toBe(true);
    expect(verdict(` t=${T}, v1=${V1} `, BODY, SIGNED_AT)).toBe(true);
    expect(verdict(signWebhook(SECRET, '', SIGNED_AT), '', SIGNED_AT)).toBe(true);
  });

  test('uses a tolerance of 300 s and the current time by default', () => {
    expect(isGenuineWebhookCall(SECRET, HEADER, BODY, secondsAfter(300).getTime())).toBe(true);
    expect(isGenuineWebhookCall(SECRET, HEADER, BODY, secondsAfter(301).getTime())).toBe(false);
    expect(isGenuineWebhookCall(SECRET, signWebhook(SECRET, BODY, new Date()), BODY)).toBe(true);
    expect(isGenuineWebhookCall(SECRET, HEADER, BODY)).toBe(false);
  });

  test('rejects a tampered body', () => {
    expect(verdict(HEADER, BODY.replace('active', 'ended!'), SIGNED_AT)).toBe(false);
    expect(verdict(HEADER, `${BODY}\n`, SIGNED_AT)).toBe(false);
    expect(verdict(HEADER, '', SIGNED_AT)).toBe(false);
  });

  test('rejects another secret', () => {
    expect(verdict(HEADER, BODY, SIGNED_AT, `${SECRET}0`)).toBe(false);
    expect(verdict(signWebhook('another secret', BODY, SIGNED_AT), BODY, SIGNED_AT)).toBe(false);
  });

  test('rejects a stale call and one from beyond the tolerance in the future', () => {
    expect(verdict(HEADER, BODY, secondsAfter(301))).toBe(false);
    expect(verdict(HEADER, BODY, secondsAfter(-301))).toBe(false);
    expect(verdict(HEADER, BODY, secondsAfter(61), SECRET, 60)).toBe(false);
    expect(verdict(`t=${T + 3600},v1=${V1}`, BODY, secondsAfter(3600))).toBe(false);
  });

  test('rejects a timestamp that is not a whole number even when the signature covers it', () => {
    const sign = (t: string) => createHmac('sha256', SECRET).update(`${t}.${BODY}`).digest('hex');
    expect(verdict(`t=soon,v1=${sign('NaN')}`, BODY, SIGNED_AT)).toBe(false);
    expect(verdict(`t=${T}.5,v1=${sign(`${T}.5`)}`, BODY, SIGNED_AT)).toBe(false);
  });

  test.each([
    ['undefined', undefined],
    ['empty', ''],
    ['missing t', `v1=${V1}`],
    ['missing v1', `t=${T}`],
    ['an empty v1', `t=${T},v1=`],
    ['a v1 that is not hex', `t=${T},v1=${'z'.repeat(64)}`],
    ['a v1 in uppercase hex', `t=${T},v1=${V1.toUpperCase()}`],
    ['a v1 one byte short', `t=${T},v1=${V1.slice(0, 62)}`],
    ['a v1 one byte long', `t=${T},v1=${V1}00`],
    ['a v1 of an odd length', `t=${T},v1=${V1}0`],
    ['a v1 with a valid prefix and junk', `t=${T},v1=${V1}xyz`],
    ['a t that is not a whole number', `t=${T}.5,v1=${V1}`],
    ['a space before =', `t =${T},v1=${V1}`],
    ['semicolons for commas', `t=${T};v1=${V1}`],
    ['fields named like Object properties', `constructor=1,__proto__=2,toString=3,t=${T},v1=${V1}x`],
  ])('rejects a malformed header (%s) without throwing, as the project does', (_name, header) => {
    expect(() => verdict(header, BODY, SIGNED_AT)).not.toThrow();
    expect(verdict(header, BODY, SIGNED_AT)).toBe(false);
  });

  test('agrees with the project on any header made of signature-like pieces, and never throws', () => {
    const piece = fc.constantFrom(
      't=',
      'v1=',
      `t=${T}`,
      `v1=${V1}`,
      String(T),
      V1,
      V1.slice(0, 62),
      ',',
      ' ',
      '=',
      '0',
      'f',
      'G',
      '.5',
      '-',
      'e3',
      '__proto__=',
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 8 }).map((pieces) => pieces.join('')),
        fc.integer({ min: -400, max: 400 }),
        (header, seconds) => {
          verdict(header, BODY, secondsAfter(seconds));
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('agrees with the project on genuine and altered signatures of any body', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string(), fc.boolean(), (body, other, alter) => {
        const received = alter ? `${body}${other}` : body;
        expect(verdict(signWebhook(SECRET, body, SIGNED_AT), received, SIGNED_AT)).toBe(!alter || other === '');
      }),
      { numRuns: 300 },
    );
  });
});
