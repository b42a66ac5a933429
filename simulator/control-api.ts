/**
 * The simulator's own HTTP API under `/control`: what a test, the local stack or a seller uses to set the scene
 * (products, licenses, entitlements, clock, settings, faults) and to read back what happened (billed records,
 * per-record results, double billing, lifecycle events, statistics). JSON in, JSON out; every failure is a 4xx with a
 * JSON body. See docs/simulator.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { callerHungUp } from '../local/http/request-handler.ts';
import { productSchema } from '../lib/config.ts';
import { readBody, RequestTooLargeError } from '../local/http/read-body.ts';
import { sendJson } from '../local/http/send-json.ts';
import { EARLIEST_CLOCK_MS, LATEST_CLOCK_MS } from './clock.ts';
import { ControlError } from './control-error.ts';
import { faultPlanSchema, FaultInjector } from './faults.ts';
import { activateLicense, endLicense, failLicense, setEntitlements, subscribe } from './license-lifecycle.ts';
import { RECORD_STATUSES, type BilledRecord, type RecordResult } from './metering-ledger.ts';
import { licenseArnFor, type License } from './marketplace.ts';
import { settingsPatchSchema } from './settings.ts';
import { PUBLIC_KEY_VERSION } from './usage-signer.ts';
import type { Simulator } from './simulator.ts';

const MAX_CONTROL_BODY_BYTES = 1024 * 1024;

const EARLIEST_SECONDS = EARLIEST_CLOCK_MS / 1000;
const LATEST_SECONDS = LATEST_CLOCK_MS / 1000;
const MAX_SPAN_SECONDS = LATEST_SECONDS - EARLIEST_SECONDS;

/** An instant as an ISO-8601 string or epoch seconds. */
const instant = z.union(
  [
    z.iso
      .datetime({ offset: true })
      .transform((text) => new Date(text))
      // A zone's offset can take a date of the year 9999 into the next.
      .refine((date) => date.getTime() >= EARLIEST_CLOCK_MS && date.getTime() <= LATEST_CLOCK_MS),
    z
      .number()
      .min(EARLIEST_SECONDS)
      .max(LATEST_SECONDS)
      .transform((seconds) => new Date(seconds * 1000)),
  ],
  {
    error: 'must be an ISO 8601 date-time with a zone (2026-12-07T10:00:00Z) or epoch seconds, in the years 0000-9999',
  },
);

const entitlementValue = z.union([
  // The Entitlement Service's IntegerValue is a 32-bit integer: it cannot carry more.
  z.strictObject({
    IntegerValue: z
      .number()
      .int()
      .min(-(2 ** 31))
      .max(2 ** 31 - 1),
  }),
  z.strictObject({ DoubleValue: z.number() }),
  z.strictObject({ BooleanValue: z.boolean() }),
  z.strictObject({ StringValue: z.string() }),
]);

const entitlementsInput = z.array(
  z.strictObject({ dimension: z.string().min(1), value: entitlementValue, expirationDate: instant.optional() }),
);

const licenseInput = z.strictObject({
  productCode: z.string().min(1),
  customerAWSAccountId: z
    .string()
    .regex(/^\d{12}$/)
    .optional(),
  offerType: z.enum(['standard', 'free-trial']).default('standard'),
  activate: z.boolean().default(true),
  entitlements: entitlementsInput.optional(),
});

const clockInput = z
  .strictObject({ now: instant.optional(), running: z.boolean().optional() })
  .refine((input) => input.now !== undefined || input.running !== undefined, 'give now, running, or both');
const advanceInput = z
  .strictObject({
    seconds: z.number().min(-MAX_SPAN_SECONDS).max(MAX_SPAN_SECONDS).optional(),
    minutes: z
      .number()
      .min(-MAX_SPAN_SECONDS / 60)
      .max(MAX_SPAN_SECONDS / 60)
      .optional(),
    hours: z
      .number()
      .min(-MAX_SPAN_SECONDS / 3600)
      .max(MAX_SPAN_SECONDS / 3600)
      .optional(),
  })
  .refine((input) => Object.keys(input).length > 0, 'give seconds, minutes or hours')
  .transform((input) => ((input.hours ?? 0) * 3600 + (input.minutes ?? 0) * 60 + (input.seconds ?? 0)) * 1000);
const endInput = z.strictObject({ reason: z.enum(['CANCELLED', 'EXPIRED', 'TERMINATED']).default('CANCELLED') });
const subscriptionInput = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  format: z.enum(['eventbridge', 'sns']).default('eventbridge'),
});
const eventsQuery = z.strictObject({
  after: z.coerce.number().int().min(0).default(0),
  format: z.enum(['eventbridge', 'sns']).optional(),
});

interface Route {
  readonly method: string;
  /** As listed at `GET /control`: `/licenses/{id}/end`. */
  readonly pattern: string;
  readonly path: RegExp;
  readonly handle: (call: ControlCall) => unknown;
  /** The query parameters it reads: another (or any, for one that reads none) is refused before it is called. */
  readonly query: readonly string[];
}

interface ControlCall {
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  readonly body: unknown;
}

export class ControlApi {
  private readonly routes: readonly Route[];

  constructor(private readonly simulator: Simulator) {
    const sim = simulator;
    this.routes = [
      route('GET', '', () => ({
        endpoints: this.routes.map(({ method, pattern }) => `${method} ${pattern}`),
        documentation: 'docs/simulator.md, "Control API"',
      })),
      route('GET', '/settings', () => sim.settings),
      route('PATCH', '/settings', ({ body }) => {
        sim.settings = { ...sim.settings, ...settingsPatchSchema.parse(body) };
        return sim.settings;
      }),
      route('POST', '/reset', () => {
        sim.reset();
        sim.clock.set(new Date(), true);
        return { reset: true };
      }),

      route('GET', '/clock', () => sim.clock.state()),
      route('PUT', '/clock', ({ body }) => {
        const input = clockInput.parse(body);
        return sim.moveClock((current) => ({
          now: input.now ?? current.now,
          running: input.running ?? current.running,
        }));
      }),
      route('POST', '/clock/advance', ({ body }) => {
        const milliseconds = advanceInput.parse(body);
        return sim.moveClock((current) => {
          const now = current.now.getTime() + milliseconds;
          if (now < EARLIEST_CLOCK_MS || now > LATEST_CLOCK_MS) {
            throw new ControlError(400, 'InvalidRequest', 'The clock would move beyond the years 0000 to 9999');
          }
          return { now: new Date(now), running: current.running };
        });
      }),

      route('POST', '/products', ({ body }) => sim.marketplace.createProduct(productSchema.parse(body))),
      route('GET', '/products', () => ({ products: sim.marketplace.listProducts() })),
      route('GET', '/products/(?<code>[^/]+)', ({ params }) => {
        const product = sim.marketplace.product(params.code!);
        if (product === undefined) throw new ControlError(404, 'ProductNotFound', `No product ${params.code}`);
        return product;
      }),

      route('POST', '/licenses', ({ body }) => {
        const { license, registrationToken } = subscribe(sim, licenseInput.parse(body));
        return { license: this.view(license), registrationToken };
      }),
      route(
        'GET',
        '/licenses',
        ({ query }) => {
          return {
            licenses: sim.marketplace.listLicenses(query.get('productCode') ?? undefined).map((l) => this.view(l)),
          };
        },
        ['productCode'],
      ),
      route('GET', '/licenses/(?<id>[^/]+)', ({ params }) => this.view(sim.marketplace.requireLicense(params.id!))),
      route('POST', '/licenses/(?<id>[^/]+)/registration-tokens', ({ params }) => ({
        registrationToken: sim.marketplace.issueRegistrationToken(params.id!),
      })),
      route('POST', '/licenses/(?<id>[^/]+)/activate', ({ params }) => this.view(activateLicense(sim, params.id!))),
      route('POST', '/licenses/(?<id>[^/]+)/fail', ({ params }) => this.view(failLicense(sim, params.id!))),
      route('POST', '/licenses/(?<id>[^/]+)/end', ({ params, body }) =>
        this.view(endLicense(sim, params.id!, endInput.parse(body ?? {}).reason)),
      ),
      route('PUT', '/licenses/(?<id>[^/]+)/entitlements', ({ params, body }) =>
        this.view(setEntitlements(sim, params.id!, entitlementsInput.parse(body))),
      ),

      route('GET', '/faults', () => sim.faults.plan),
      route('PUT', '/faults', ({ body }) => {
        sim.faults = new FaultInjector(faultPlanSchema.parse(body));
        return sim.faults.plan;
      }),
      route('DELETE', '/faults', () => {
        sim.faults = new FaultInjector(faultPlanSchema.parse({}));
        return sim.faults.plan;
      }),

      route(
        'GET',
        '/billed',
        ({ query }) => {
          const records = sim.ledger.billedRecords().filter(matching(query, billedFilters));
          return { records, totalQuantity: records.reduce((sum, record) => sum + record.quantity, 0) };
        },
        billedFilters,
      ),
      route(
        'GET',
        '/results',
        ({ query }) => {
          const status = query.get('status');
          // A misspelt status would match nothing, and a test asserting "none of these" would pass unchecked.
          if (status !== null && !(RECORD_STATUSES as readonly string[]).includes(status)) {
            throw new ControlError(400, 'InvalidFilter', `Unknown status ${status}; use ${RECORD_STATUSES.join(', ')}`);
          }
          return { results: sim.ledger.results().filter(matching(query, resultFilters)) };
        },
        resultFilters,
      ),
      route('GET', '/stats', () => ({
        operations: sim.stats,
        eventDeliveries: sim.events.deliveries,
        doubleBilled: sim.ledger.doubleBillings().length,
      })),
      route('GET', '/warnings', () => ({ warnings: sim.ledger.doubleBillings() })),

      route(
        'GET',
        '/events',
        ({ query }) => {
          sim.releaseDueEvents();
          const { after, format } = eventsQuery.parse(Object.fromEntries(query));
          const events = sim.events.feed(after, format);
          // The feed's own latest, not the reader's: a reader whose `after` is above it knows the feed began again.
          return { events, lastSequence: sim.events.lastSequence };
        },
        Object.keys(eventsQuery.shape),
      ),
      route('GET', '/event-subscriptions', () => ({ subscriptions: sim.events.listSubscriptions() })),
      route('POST', '/event-subscriptions', ({ body }) => {
        const input = subscriptionInput.parse(body);
        return sim.events.subscribe(input.url, input.format);
      }),
      route('DELETE', '/event-subscriptions/(?<id>[^/]+)', ({ params }) => {
        if (!sim.events.unsubscribe(params.id!)) {
          throw new ControlError(404, 'SubscriptionNotFound', `No event subscription ${params.id}`);
        }
        return { deleted: params.id };
      }),

      route('GET', '/register-usage/public-key', () => ({
        publicKeyPem: sim.signer.publicKeyPem(),
        version: PUBLIC_KEY_VERSION,
      })),
    ];
  }

  async handle(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    try {
      const path = url.pathname.slice('/control'.length) || '/';
      const candidates = this.routes.filter((candidate) => candidate.path.test(path));
      if (candidates.length === 0) throw new ControlError(404, 'NotFound', `No control endpoint ${url.pathname}`);
      const matched = candidates.find((candidate) => candidate.method === request.method);
      if (matched === undefined) {
        throw new ControlError(405, 'MethodNotAllowed', `${request.method ?? ''} is not allowed on ${url.pathname}`);
      }
      refuseRepeatedParameters(url.searchParams);
      refuseUnreadParameters(matched, url.searchParams);
      const body = await readJson(request);
      const params = decodeParams(matched.path.exec(path)?.groups ?? {});
      const answer = await matched.handle({ params, query: url.searchParams, body });
      // Even a GET may change the state (reading events publishes those due): what is answered is saved first.
      await this.simulator.saveState();
      sendJson(response, 200, answer);
    } catch (error) {
      if (callerHungUp(request)) return;
      const { status, code, message } = describeError(error);
      sendJson(response, status, { error: code, message });
    }
  }

  private view(license: License) {
    const licenseArn = licenseArnFor(license, this.simulator.settings);
    return {
      ...license,
      ...(licenseArn === undefined ? {} : { licenseArn }),
      status: this.simulator.marketplace.status(license),
    };
  }
}

function route(
  method: string,
  path: string,
  handle: (call: ControlCall) => unknown,
  query: readonly string[] = [],
): Route {
  const pattern = `/control${path.replace(/\(\?<(\w+)>[^)]*\)/g, '{$1}')}`;
  return { method, pattern, path: new RegExp(`^${path}/?$`), handle, query };
}

function decodeParams(groups: Record<string, string>): Record<string, string> {
  try {
    return Object.fromEntries(Object.entries(groups).map(([name, value]) => [name, decodeURIComponent(value)]));
  } catch (error) {
    throw new ControlError(400, 'InvalidPath', 'The path holds a malformed %-escape', { cause: error });
  }
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const body = await readBody(request, MAX_CONTROL_BODY_BYTES);
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new ControlError(400, 'InvalidJson', 'The request body is not valid JSON', { cause: error });
  }
}

const billedFilters = [
  'productCode',
  'licenseId',
  'licenseArn',
  'customerIdentifier',
  'customerAWSAccountId',
  'dimension',
] as const satisfies readonly (keyof BilledRecord)[];
const resultFilters = [
  'productCode',
  'licenseId',
  'dimension',
  'status',
] as const satisfies readonly (keyof RecordResult)[];

/** Refuses a query that gives a parameter twice: a filter takes one value, and taking either would hide the other. */
function refuseRepeatedParameters(query: URLSearchParams): void {
  const names = [...query.keys()];
  const repeated = [...new Set(names.filter((name, index) => names.indexOf(name) !== index))];
  if (repeated.length > 0) {
    throw new ControlError(
      400,
      'InvalidQuery',
      `${repeated.join(', ')} given more than once; give each parameter once`,
    );
  }
}

/**
 * Refuses a query parameter the endpoint does not read, which would be ignored without a word (a misspelt filter would
 * list everything): `InvalidFilter` where it takes others, `InvalidQuery` where it takes none.
 */
function refuseUnreadParameters(route: Route, query: URLSearchParams): void {
  const unread = [...query.keys()].filter((name) => !route.query.includes(name));
  if (unread.length === 0) return;
  if (route.query.length === 0) {
    throw new ControlError(
      400,
      'InvalidQuery',
      `${route.method} ${route.pattern} takes no query parameters: ${unread.join(', ')}`,
    );
  }
  throw new ControlError(400, 'InvalidFilter', `Unknown filter ${unread.join(', ')}; use ${route.query.join(', ')}`);
}

/** A predicate keeping the records whose fields equal the query's (the endpoint takes no other parameter). */
function matching<T extends object>(query: URLSearchParams, filters: readonly (keyof T & string)[]) {
  return (record: T) => filters.every((name) => !query.has(name) || record[name] === query.get(name));
}

function describeError(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof ControlError) return { status: error.status, code: error.code, message: error.message };
  if (error instanceof z.ZodError) return { status: 400, code: 'InvalidRequest', message: z.prettifyError(error) };
  if (error instanceof RequestTooLargeError) return { status: 413, code: 'RequestTooLarge', message: error.message };
  console.error('simulator: unexpected control API error', error);
  return { status: 500, code: 'InternalError', message: 'Unexpected simulator error' };
}
