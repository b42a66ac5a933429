/**
 * Malformed and hostile requests for the registration endpoints (the fulfillment URL and the registration page),
 * drawn from a seeded random source so that a run can be replayed. Where a request has exactly one right answer
 * (a forged form token, a method the endpoint does not serve, a body over the limit) it says so.
 *
 * Buyers whose registration is still open must never complete it here: every form such a buyer posts with the right
 * form token ends with a field that fails validation (a "spoiler", last, so that it is the value the handler keeps),
 * so that each is answered with the form and the values it echoes.
 */
import type { RegistrationField } from '../../lambdas/core/environment.ts';
import { fieldRules, validateRegistration } from '../../lambdas/core/registration-form.ts';
import { MAX_TOKEN_LENGTH } from '../../lambdas/registration/fulfillment-handler.ts';
import { MAX_FORM_BYTES } from '../../lambdas/registration/http.ts';
import { hostilePayloads, MARK_PREFIX } from './hostile-input.ts';
import type { RawRequest } from './raw-http.ts';
import type { SeededRandom } from './seeded-random.ts';

export interface Buyer {
  readonly subscriberId: string;
  readonly registrationToken: string;
  /** The session cookie's name (one per product) and value. */
  readonly cookieName: string;
  readonly sessionId: string;
  readonly formToken: string;
}

export interface Targets {
  readonly fulfillmentPath: string;
  readonly registerPath: string;
  readonly stage: string;
  readonly requiredFields: readonly RegistrationField[];
  /** Where registered free-trial buyers are sent. */
  readonly freeTrialLandingUrl: string;
  /** Buyers who arrived and have not registered. */
  readonly open: readonly Buyer[];
  /** Buyers who completed their registration. */
  readonly registered: readonly Buyer[];
}

export interface Payload {
  readonly value: string;
  readonly mark: string;
}

export interface Expected {
  readonly status: number;
  /** Where a redirect may go (one of these). */
  readonly location?: readonly string[];
  /** Text the page must show. */
  readonly says?: string;
}

export interface HostileRequest {
  readonly kind: string;
  readonly request: RawRequest;
  readonly payloads: readonly Payload[];
  readonly expected?: Expected;
}

const FORM = 'application/x-www-form-urlencoded';
const TOKEN = 'x-amzn-marketplace-token';
const OFFER_TYPE = 'x-amzn-marketplace-offer-type';
/** A session cookie's name, as for a product of the local stack's. */
const SESSION_COOKIE = 'mp_registration_analytics-pro-example';
const CONTACT: Readonly<Record<RegistrationField, string>> = {
  company: 'Acme Ltd',
  contactName: 'Ada Lovelace',
  email: 'ada@example.com',
  phone: '+44 20 7946 0958',
};
const CONTACT_FIELDS = Object.keys(CONTACT) as RegistrationField[];
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const PRINTABLE = Array.from({ length: 95 }, (_, index) => String.fromCharCode(32 + index)).join('');

const NOT_A_FORM = [
  'application/json',
  'text/plain',
  'text/html',
  'multipart/form-data; boundary=----fuzz',
  'application/xml',
  'application/octet-stream',
  'image/png',
  '*/*',
  'application/x-www-form-urlencodedx',
  'application/x-www-form-urlencoded, text/html',
  'x-www-form-urlencoded',
  '',
];
const FORM_IN_DISGUISE = [FORM, 'APPLICATION/X-WWW-FORM-URLENCODED', `${FORM}; charset=utf-16`, `${FORM};;;`];

const INVALID_UTF8 = [[0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80], [0x80]];
const BAD_ESCAPES = ['%', '%z', '%zz', '%E0%A4%A', '%FF%FE', '%00', '%C0%AF', '%ED%A0%80', '%%32%35', '%u003c', '%-1'];
const OTHER_METHODS = ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'PURGE'];

export class HostileRequests {
  private marks = 0;
  private readonly kinds: readonly (() => HostileRequest)[] = [
    () => this.randomBytes(),
    () => this.hugeField(),
    () => this.wrongContentType(),
    () => this.invalidUtf8(),
    () => this.invalidPercentEncoding(),
    () => this.repeatedFields(),
    () => this.injectedFields(),
    () => this.randomCookies(),
    () => this.forgedFormToken(),
    () => this.afterRegistration(),
    () => this.otherMethod(),
    () => this.randomPath(),
    () => this.replayedToken(),
  ];

  constructor(
    private readonly random: SeededRandom,
    private readonly targets: Targets,
  ) {}

  next(): HostileRequest {
    return this.random.pick(this.kinds)();
  }

  /** Bodies over the API Gateway limits, which only the gateway itself answers. */
  overGatewayLimits(): HostileRequest[] {
    const post = (bytes: number) => this.post(this.targets.fulfillmentPath, Buffer.alloc(bytes, 'a'), FORM);
    return [
      // Over Lambda's 6 MB invocation limit once it is an event.
      { kind: 'event over 6 MB', request: post(7 * 1024 * 1024), payloads: [], expected: { status: 413 } },
      // Over API Gateway's 10 MB payload quota.
      { kind: 'body over 10 MB', request: post(10_485_761), payloads: [], expected: { status: 413 } },
    ];
  }

  private randomBytes(): HostileRequest {
    const bytes = this.random.bytes(this.random.int(0, 3000));
    if (this.random.chance(0.5)) {
      return {
        kind: 'random bytes',
        request: this.post(this.targets.fulfillmentPath, bytes, this.anyType()),
        payloads: [],
      };
    }
    const buyer = this.random.pick(this.targets.open);
    const body = Buffer.concat([Buffer.from(`formToken=${buyer.formToken}&`), bytes, Buffer.from(this.spoiler())]);
    return {
      kind: 'random bytes',
      request: this.post(this.targets.registerPath, body, this.anyType(), buyer),
      payloads: [],
    };
  }

  private hugeField(): HostileRequest {
    if (this.random.chance(0.4)) {
      const payload = this.payload();
      const length = this.random.pick([MAX_TOKEN_LENGTH - 1, MAX_TOKEN_LENGTH, MAX_TOKEN_LENGTH + 1, 15_000]);
      const token = fill(payload.value, length, this.random.pick(['A', '\u00e9', '+/=']));
      const request = this.post(this.targets.fulfillmentPath, form([[TOKEN, token]]), FORM);
      return { kind: 'huge token', request, payloads: [payload], expected: this.overLimit(request) ?? { status: 400 } };
    }
    const buyer = this.random.pick(this.targets.open);
    const payload = this.payload();
    if (this.random.chance(0.3)) {
      // The whole form at its limit, give or take a byte: a long company name, with the payload as the contact name.
      const bytes = this.random.pick([MAX_FORM_BYTES - 1, MAX_FORM_BYTES, MAX_FORM_BYTES + 1]);
      const withCompany = (company: string) =>
        this.formFor(buyer, { ...CONTACT, company, contactName: payload.value }, ['contactName']);
      // Both forms fail validation (no company, too long a company), so neither gets a spoiler: only the length differs.
      const body = withCompany('a'.repeat(bytes - withCompany('').length));
      const request = this.post(this.targets.registerPath, body, FORM, buyer);
      return {
        kind: `form of ${bytes} bytes`,
        request,
        payloads: [payload],
        expected: this.overLimit(request) ?? { status: 400 },
      };
    }
    const field = this.random.pick(CONTACT_FIELDS);
    const { maxLength } = fieldRules[field];
    const length = this.random.pick([maxLength - 1, maxLength, maxLength + 1, 2 * maxLength + 1, 5000]);
    const value = fill(payload.value, length, this.random.pick(['a', '\u{1F600}', '\u0645']));
    const request = this.post(
      this.targets.registerPath,
      this.formFor(buyer, { ...CONTACT, [field]: value }, [field]),
      FORM,
      buyer,
    );
    return {
      kind: `huge ${field}`,
      request,
      payloads: [payload],
      expected: this.overLimit(request) ?? { status: 400, says: 'Please correct' },
    };
  }

  private wrongContentType(): HostileRequest {
    const contentType = this.random.pick([...NOT_A_FORM, ...FORM_IN_DISGUISE, undefined, this.printable(30)]);
    const isForm = contentType !== undefined && contentType.split(';')[0]!.trim().toLowerCase() === FORM;
    const payload = this.payload();
    const toFulfillment = this.random.chance(0.5);
    const buyer = this.random.pick(this.targets.open);
    const request = toFulfillment
      ? this.post(this.targets.fulfillmentPath, form([[TOKEN, payload.value]]), contentType)
      : this.post(
          this.targets.registerPath,
          this.formFor(buyer, { ...CONTACT, company: payload.value }, ['company']),
          contentType,
          buyer,
        );
    return {
      kind: `content type ${JSON.stringify(contentType)}`,
      request,
      payloads: [payload],
      expected: isForm ? { status: 400 } : { status: 415, says: 'We could not read that request' },
    };
  }

  private invalidUtf8(): HostileRequest {
    const bad = Buffer.from(this.random.pick(INVALID_UTF8));
    const payload = this.payload();
    const encoded = Buffer.from(encodeURIComponent(payload.value));
    const value = this.random.chance(0.5) ? Buffer.concat([bad, encoded]) : Buffer.concat([encoded, bad]);
    if (this.random.chance(0.5)) {
      const body = Buffer.concat([Buffer.from(`${TOKEN}=`), value]);
      return {
        kind: 'invalid UTF-8 token',
        request: this.post(this.targets.fulfillmentPath, body, FORM),
        payloads: [payload],
        expected: { status: 400 },
      };
    }
    const buyer = this.random.pick(this.targets.open);
    const field = this.random.pick(CONTACT_FIELDS);
    // The handler may read the bad bytes as replacement characters: the spoiler keeps that from completing.
    const body = Buffer.concat([
      Buffer.from(`formToken=${buyer.formToken}&${field}=`),
      value,
      Buffer.from(this.spoiler([field])),
    ]);
    return {
      kind: `invalid UTF-8 ${field}`,
      request: this.post(this.targets.registerPath, body, FORM, buyer),
      payloads: [payload],
      expected: { status: 400 },
    };
  }

  private invalidPercentEncoding(): HostileRequest {
    const payload = this.payload();
    const mangled = `${this.random.pick(BAD_ESCAPES)}${encodeURIComponent(payload.value)}${this.random.pick(BAD_ESCAPES)}`;
    const junkName = `${this.random.pick(BAD_ESCAPES)}=${this.random.pick(BAD_ESCAPES)}`;
    if (this.random.chance(0.5)) {
      const body = `${junkName}&${TOKEN}=${mangled}&${OFFER_TYPE}=${this.random.pick(BAD_ESCAPES)}`;
      return {
        kind: 'invalid percent-encoding (fulfillment)',
        request: this.post(this.targets.fulfillmentPath, body, FORM),
        payloads: [payload],
        expected: { status: 400 },
      };
    }
    const buyer = this.random.pick(this.targets.open);
    const field = this.random.pick(CONTACT_FIELDS);
    const body = `formToken=${buyer.formToken}&${junkName}&${field}=${mangled}${this.spoiler([field])}`;
    return {
      kind: `invalid percent-encoding (${field})`,
      request: this.post(this.targets.registerPath, body, FORM, buyer),
      payloads: [payload],
      expected: { status: 400 },
    };
  }

  private repeatedFields(): HostileRequest {
    const payloads: Payload[] = [];
    /** A fresh payload one time in `1 / probability`, otherwise `usual`. */
    const sometimesHostile = (usual: string, probability = 0.5) => {
      if (!this.random.chance(probability)) return usual;
      const payload = this.payload();
      payloads.push(payload);
      return payload.value;
    };
    const times = this.random.int(2, 40);
    if (this.random.chance(0.5)) {
      const valid = this.random.pick([...this.targets.open, ...this.targets.registered]).registrationToken;
      const tokens = Array.from({ length: times }, () => sometimesHostile(this.random.pick([valid, ''])));
      const offers = Array.from({ length: this.random.int(0, 5) }, () => sometimesHostile('free-trial'));
      const body = form([...tokens.map((token) => [TOKEN, token]), ...offers.map((offer) => [OFFER_TYPE, offer])]);
      const request = this.post(this.targets.fulfillmentPath, body, FORM);
      // Marketplace sends one token: several are refused, whichever comes first.
      return { kind: 'repeated token', request, payloads, expected: this.overLimit(request) ?? { status: 400 } };
    }
    const buyer = this.random.pick(this.targets.open);
    const formTokens = Array.from({ length: times }, () => sometimesHostile(buyer.formToken));
    const contact = CONTACT_FIELDS.flatMap((field) =>
      Array.from({ length: this.random.int(1, 4) }, () => [field, sometimesHostile(CONTACT[field])]),
    );
    const body = `${form([...formTokens.map((token) => ['formToken', token]), ...contact])}${this.spoiler()}`;
    const request = this.post(this.targets.registerPath, body, FORM, buyer);
    // The form carries one form token: several are refused as not the form drawn, whichever comes first.
    const expected = { status: 403, says: 'This form has expired' };
    return { kind: 'repeated form fields', request, payloads, expected: this.overLimit(request) ?? expected };
  }

  private injectedFields(): HostileRequest {
    const target = this.random.pick([TOKEN, OFFER_TYPE, 'formToken', ...CONTACT_FIELDS, 'every field']);
    const payload = this.payload();
    if (target === TOKEN) {
      const request = this.post(this.targets.fulfillmentPath, form([[TOKEN, payload.value]]), FORM);
      return { kind: 'injected token', request, payloads: [payload], expected: { status: 400 } };
    }
    if (target === OFFER_TYPE) {
      const { registrationToken } = this.random.pick([...this.targets.open, ...this.targets.registered]);
      const body = form([
        [TOKEN, registrationToken],
        [OFFER_TYPE, payload.value],
      ]);
      const request = this.post(this.targets.fulfillmentPath, body, FORM);
      return {
        kind: 'injected offer type',
        request,
        payloads: [payload],
        // A replayed token may have marked the buyer a free-trial one (the offer type is the browser's claim).
        expected: { status: 303, location: ['register', this.targets.freeTrialLandingUrl] },
      };
    }
    const buyer = this.random.pick(this.targets.open);
    if (target === 'formToken') {
      const request = this.post(
        this.targets.registerPath,
        form([['formToken', payload.value], ...Object.entries(CONTACT)]),
        FORM,
        buyer,
      );
      return {
        kind: 'injected formToken',
        request,
        payloads: [payload],
        expected: notTheFormToken(payload.value),
      };
    }
    if (target === 'every field') {
      const payloads = CONTACT_FIELDS.map(() => this.payload());
      const fields = Object.fromEntries(CONTACT_FIELDS.map((field, index) => [field, payloads[index]!.value]));
      const request = this.post(this.targets.registerPath, this.formFor(buyer, fields, CONTACT_FIELDS), FORM, buyer);
      return {
        kind: 'injected into every field',
        request,
        payloads,
        expected: { status: 400, says: 'Please correct' },
      };
    }
    const field = target as RegistrationField;
    const request = this.post(
      this.targets.registerPath,
      this.formFor(buyer, { ...CONTACT, [field]: payload.value }, [field]),
      FORM,
      buyer,
    );
    return {
      kind: `injected ${field}`,
      request,
      payloads: [payload],
      expected: { status: 400, says: 'Please correct' },
    };
  }

  private randomCookies(): HostileRequest {
    const payloads: Payload[] = [];
    const sessionIds = [...this.targets.open, ...this.targets.registered].map((buyer) => buyer.sessionId);
    const cookies = Array.from({ length: this.random.int(1, 12) }, () => {
      const name = this.random.pick([
        SESSION_COOKIE,
        SESSION_COOKIE.toUpperCase(),
        ` ${SESSION_COOKIE} `,
        this.printable(8).replace(/[;=]/g, ''),
      ]);
      const payload = this.payload();
      payloads.push(payload);
      const value = this.random.pick([
        this.random.string(43, BASE64URL),
        this.random.string(this.random.int(0, 300), BASE64URL),
        this.printable(this.random.int(0, 200)).replace(/;/g, ''),
        // Header values are printable ASCII; the rest of a payload goes percent-encoded (and cut, to stay well
        // under the server's 16 KB header limit).
        /^[\x20-\x7e]*$/.test(payload.value)
          ? payload.value.replace(/;/g, '')
          : encodeURIComponent(payload.value).slice(0, 300),
        `${this.random.pick(sessionIds)}${this.random.pick(['x', '=', ' x', '%00'])}`,
        this.random.pick(sessionIds),
      ]);
      return `${name}=${value}`;
    });
    const header = cookies.join(this.random.pick(['; ', ';', ' ; ']));
    // Whether some cookie named like the session cookie carries a live session: then the answer depends on which.
    const mayHoldASession = sessionIds.some((sessionId) => header.includes(sessionId));
    const get = this.random.chance(0.5);
    const request: RawRequest = {
      method: get ? 'GET' : 'POST',
      path: this.targets.registerPath,
      headers: { cookie: header, ...(get ? {} : { 'content-type': FORM }) },
      ...(get ? {} : { body: Buffer.from(`${form(Object.entries(CONTACT))}${this.spoiler()}`) }),
    };
    return {
      kind: 'random cookies',
      request,
      payloads,
      // "We could not find your session" (none of that name), "Your session has expired" (a dead one) or "more than
      // one sign-up session" (two of one name).
      ...(mayHoldASession ? {} : { expected: { status: 403, says: 'session' } }),
    };
  }

  private forgedFormToken(): HostileRequest {
    const buyer = this.random.pick([...this.targets.open, ...this.targets.registered]);
    const right = buyer.formToken;
    const position = this.random.int(0, right.length - 1);
    const flipped = right.slice(0, position) + (right[position] === 'A' ? 'B' : 'A') + right.slice(position + 1);
    const other = this.random.pick([...this.targets.open, ...this.targets.registered].filter((each) => each !== buyer));
    const payload = this.payload();
    const forged = this.random.pick([
      flipped,
      right.slice(0, -1),
      `${right}A`,
      right.toLowerCase() === right ? `${right}a` : right.toLowerCase(),
      ` ${right} `,
      other.formToken,
      buyer.sessionId,
      '',
      payload.value,
      'A'.repeat(5000),
      undefined,
    ]);
    const company = this.payload();
    const fields: string[][] = [
      ...(forged === undefined ? [] : [['formToken', forged]]),
      ...Object.entries({ ...CONTACT, company: company.value }),
    ];
    return {
      kind: 'forged form token',
      request: this.post(this.targets.registerPath, form(fields), FORM, buyer),
      payloads: [payload, company],
      expected: notTheFormToken(forged),
    };
  }

  private afterRegistration(): HostileRequest {
    const buyer = this.random.pick(this.targets.registered);
    if (this.random.chance(0.3)) {
      return {
        kind: 'registered buyer comes back',
        request: { method: 'GET', path: this.targets.registerPath, headers: { cookie: cookieOf(buyer) } },
        payloads: [],
        expected: { status: 200, says: 'You are set up' },
      };
    }
    const payloads = CONTACT_FIELDS.map(() => this.payload());
    const fields = CONTACT_FIELDS.map((field, index) => [
      field,
      this.random.pick([CONTACT[field], payloads[index]!.value]),
    ]);
    return {
      kind: 'registered buyer posts again',
      request: this.post(this.targets.registerPath, form([['formToken', buyer.formToken], ...fields]), FORM, buyer),
      payloads,
      // Never the details the buyer registered with (hostile ones): they are not saved, and the page says so.
      expected: { status: 409, says: 'This subscription was already set up' },
    };
  }

  private otherMethod(): HostileRequest {
    const method = this.random.pick(OTHER_METHODS);
    const buyer = this.random.pick([...this.targets.open, ...this.targets.registered]);
    const payload = this.payload();
    // TRACE may carry no body.
    const withBody = method !== 'TRACE' && this.random.chance(0.5);
    const request: RawRequest = {
      method,
      path: this.random.pick([this.targets.fulfillmentPath, this.targets.registerPath]),
      headers: {
        ...(this.random.chance(0.5) ? { cookie: cookieOf(buyer) } : {}),
        ...(withBody ? { 'content-type': FORM } : {}),
      },
      ...(withBody
        ? {
            body: Buffer.from(
              form([
                ['formToken', buyer.formToken],
                [TOKEN, payload.value],
              ]),
            ),
          }
        : {}),
    };
    return { kind: `method ${method}`, request, payloads: [payload], expected: { status: 405 } };
  }

  private randomPath(): HostileRequest {
    const { stage } = this.targets;
    const payload = this.payload();
    const segment = () =>
      this.random.pick([
        this.random.string(this.random.int(1, 20), BASE64URL),
        this.random.pick(BAD_ESCAPES),
        encodeURIComponent(payload.value),
        '..',
        '.',
        '',
        'fulfillment',
        'register',
        '%72egister',
        'REGISTER',
        'register%00',
        'register%2F',
      ]);
    const path = `/${this.random.pick([stage, stage, stage, this.random.string(5, BASE64URL), ''])}/${Array.from(
      { length: this.random.int(0, 4) },
      segment,
    ).join('/')}`;
    const query = this.random.chance(0.5)
      ? `?${this.random.pick(BAD_ESCAPES)}&q=${encodeURIComponent(payload.value)}&${TOKEN}=x`
      : '';
    const buyer = this.random.pick(this.targets.open);
    const post = this.random.chance(0.5);
    const request: RawRequest = {
      method: post ? 'POST' : 'GET',
      path: `${path}${query}`,
      headers: {
        ...(this.random.chance(0.5) ? { cookie: cookieOf(buyer) } : {}),
        ...(post ? { 'content-type': FORM } : {}),
      },
      ...(post
        ? {
            body: Buffer.from(
              `${form([
                ['formToken', buyer.formToken],
                [TOKEN, payload.value],
              ])}${this.spoiler()}`,
            ),
          }
        : {}),
    };
    return { kind: 'random path', request, payloads: [payload] };
  }

  private replayedToken(): HostileRequest {
    const { registrationToken } = this.random.pick([...this.targets.open, ...this.targets.registered]);
    const payload = this.payload();
    const padding = () => this.random.pick(['', ' ', '\t', '\n ', '\r\n']);
    const body = form([
      [TOKEN, `${padding()}${registrationToken}${padding()}`],
      ...(this.random.chance(0.7)
        ? [[OFFER_TYPE, this.random.pick(['free-trial', 'standard', 'FREE-TRIAL', payload.value])]]
        : []),
      [this.random.pick(['company', 'formToken', 'x', payload.value]), payload.value],
    ]);
    return {
      kind: 'replayed valid token',
      request: this.post(this.targets.fulfillmentPath, body, FORM),
      payloads: [payload],
      // A replayed token may have marked the buyer a free-trial one (the offer type is the browser's claim).
      expected: { status: 303, location: ['register', this.targets.freeTrialLandingUrl] },
    };
  }

  /** A fresh payload with its own mark (a trailing Z, so that no mark is the start of another). */
  private payload(): Payload {
    const mark = `${MARK_PREFIX}${++this.marks}Z`;
    return { mark, value: this.random.pick(hostilePayloads(mark)) };
  }

  private printable(length: number): string {
    return this.random.string(length, PRINTABLE);
  }

  private anyType(): string | undefined {
    return this.random.pick([...FORM_IN_DISGUISE, ...NOT_A_FORM, undefined]);
  }

  /** `&<field>=<invalid>`, for email or phone, whichever carries no payload: the last field of an open buyer's form. */
  private spoiler(payloadFields: readonly RegistrationField[] = []): string {
    const field = this.random.pick((['email', 'phone'] as const).filter((each) => !payloadFields.includes(each)));
    return `&${field}=${field === 'email' ? 'not+an+email' : 'call+me'}`;
  }

  /** An open buyer's form with the right form token; spoiled unless `fields` already fail validation. */
  private formFor(buyer: Buyer, fields: Readonly<Record<string, string>>, payloadFields: readonly RegistrationField[]) {
    const body = form([['formToken', buyer.formToken], ...Object.entries(fields)]);
    return validateRegistration(fields, this.targets.requiredFields).valid
      ? `${body}${this.spoiler(payloadFields)}`
      : body;
  }

  private post(path: string, body: string | Buffer, contentType: string | undefined, buyer?: Buyer): RawRequest {
    return {
      method: 'POST',
      path,
      headers: {
        ...(contentType === undefined ? {} : { 'content-type': contentType }),
        ...(buyer === undefined ? {} : { cookie: cookieOf(buyer) }),
      },
      body: Buffer.from(body),
    };
  }

  /** 413 when the body is over the handlers' form limit: the registration form's page says to shorten it. */
  private overLimit(request: RawRequest): Expected | undefined {
    if ((request.body?.length ?? 0) <= MAX_FORM_BYTES) return undefined;
    const form = request.path.split('?')[0] === this.targets.registerPath;
    return { status: 413, says: form ? 'That form was too large' : 'That request was too large' };
  }
}

/**
 * A registration form whose form token is not its session's: refused as expired without one; with one (a form drawn
 * for an earlier session, forged or not), nothing saved and a 409 page (the form again, or what ended or stands).
 */
function notTheFormToken(sent: string | undefined): Expected {
  return sent === undefined || sent === '' ? { status: 403, says: 'This form has expired' } : { status: 409 };
}

export function cookieOf(buyer: Buyer): string {
  return `${buyer.cookieName}=${buyer.sessionId}`;
}

function form(pairs: readonly (readonly string[])[]): string {
  return new URLSearchParams(pairs.map(([name = '', value = '']): [string, string] => [name, value])).toString();
}

/** `start`, then `filler` repeated, cut to `length` UTF-16 units (the unit of the field limits). */
function fill(start: string, length: number, filler: string): string {
  return (start + filler.repeat(Math.ceil(length / filler.length))).slice(0, length);
}
