/**
 * The seller's event bus, locally: an HTTP endpoint that answers EventBridge's `PutEvents` (awsJson1_1, as the real
 * `@aws-sdk/client-eventbridge` sends it) and keeps what it was sent, so the functions publish locally with the same
 * client and code as in AWS. `GET /events` lists what arrived (EventBridge's envelope, newest last); `PUT /faults`
 * makes the next calls or entries fail, for tests of the publishers' retries. Rules send each stored event of a source
 * on to a target, as EventBridge rules send events to their targets.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listen } from './http/listen.ts';
import { handledRequests } from './http/request-handler.ts';
import { sendJson } from './http/send-json.ts';
import { z } from 'zod';
import {
  AwsError,
  parseJsonBody,
  readAwsJsonBody,
  sendAwsError,
  sendAwsJson,
  unknownOperationError,
  validationError,
} from './http/aws-json.ts';
import { LOCAL_REGION } from './local-aws.ts';

/** PutEvents' limits: 10 entries and 256 KB a call. */
const MAX_ENTRIES = 10;
const MAX_REQUEST_BYTES = 256 * 1024;

export interface BusEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: unknown;
}

export interface EventBusOptions {
  readonly busName: string;
  readonly port?: number;
  readonly host?: string;
  readonly account?: string;
  readonly region?: string;
}

/** A rule's event pattern: the events of one source, of one detail-type if given. */
export interface EventPattern {
  readonly source: string;
  readonly detailType?: string;
}

export interface LocalEventBus {
  readonly url: string;
  readonly busName: string;
  events(): readonly BusEvent[];
  /** From now on, every stored event that matches `pattern` goes to `target` too (EventBridge `PutRule`, `PutTargets`). */
  addRule(pattern: EventPattern, target: (event: BusEvent) => void): void;
  /** The next `calls` PutEvents calls fail whole (500); the next `entries` entries fail one by one. */
  failNext(faults: { calls?: number; entries?: number }): void;
  close(): Promise<void>;
}

const entryInput = z.object({
  Source: z.string().min(1).optional(),
  DetailType: z.string().min(1).optional(),
  Detail: z.string().optional(),
  EventBusName: z.string().optional(),
  Resources: z.array(z.string()).optional(),
  // Epoch seconds, as the SDK sends a timestamp: refused whole, before any entry is stored, if no date can hold it.
  Time: z
    .number()
    .refine((seconds) => !Number.isNaN(new Date(seconds * 1000).getTime()), { error: 'Time is out of range' })
    .optional(),
});
const requestInput = z.object({ Entries: z.array(entryInput).min(1).max(MAX_ENTRIES) });
const faultsInput = z.strictObject({
  calls: z.number().int().min(0).optional(),
  entries: z.number().int().min(0).optional(),
});

export async function startLocalEventBus(options: EventBusOptions): Promise<LocalEventBus> {
  const received: BusEvent[] = [];
  const rules: { readonly pattern: EventPattern; readonly target: (event: BusEvent) => void }[] = [];
  const faults = { calls: 0, entries: 0 };
  const account = options.account ?? '123456789012';
  const region = options.region ?? LOCAL_REGION;

  const store = (event: BusEvent) => {
    received.push(event);
    for (const { pattern, target } of rules) {
      if (event.source !== pattern.source) continue;
      if (pattern.detailType !== undefined && event['detail-type'] !== pattern.detailType) continue;
      try {
        target(event);
      } catch (error) {
        // EventBridge's delivery to a target never fails the PutEvents that stored the event.
        console.error(`event bus: a rule's target failed for event ${event.id}`, error);
      }
    }
  };

  const putEvents = (rawInput: unknown) => {
    const parsed = requestInput.safeParse(rawInput);
    if (!parsed.success) throw validationError(z.prettifyError(parsed.error));
    if (faults.calls > 0) {
      faults.calls--;
      throw new AwsError('InternalException', 'Injected failure', 500, 'com.amazonaws.eventbridge');
    }
    const entries = parsed.data.Entries.map((entry) => {
      if (faults.entries > 0) {
        faults.entries--;
        return { ErrorCode: 'InternalFailure', ErrorMessage: 'Injected failure' };
      }
      const problem = entryProblem(entry, options.busName);
      if (problem !== undefined) return problem;
      const id = randomUUID();
      store({
        version: '0',
        id,
        'detail-type': entry.DetailType!,
        source: entry.Source!,
        account,
        time: new Date(entry.Time === undefined ? Date.now() : entry.Time * 1000).toISOString(),
        region,
        resources: entry.Resources ?? [],
        detail: JSON.parse(entry.Detail!) as unknown,
      });
      return { EventId: id };
    });
    return { FailedEntryCount: entries.filter((entry) => 'ErrorCode' in entry).length, Entries: entries };
  };

  const server = createServer(handledRequests('event bus', handle));

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const path = (request.url ?? '/').split('?')[0];
    try {
      const body = await readAwsJsonBody(request, MAX_REQUEST_BYTES);
      if (request.method === 'GET' && path === '/events') return sendJson(response, 200, { events: received });
      if (request.method === 'PUT' && path === '/faults') {
        const parsed = faultsInput.safeParse(parseJsonBody(body));
        if (!parsed.success) return sendJson(response, 400, { message: z.prettifyError(parsed.error) });
        Object.assign(faults, { calls: parsed.data.calls ?? 0, entries: parsed.data.entries ?? 0 });
        return sendJson(response, 200, faults);
      }
      if (request.method !== 'POST' || request.headers['x-amz-target'] !== 'AWSEvents.PutEvents') {
        throw unknownOperationError();
      }
      sendAwsJson(response, 200, putEvents(parseJsonBody(body)), requestId);
    } catch (error) {
      if (!(error instanceof AwsError)) throw error;
      sendAwsError(response, error, requestId);
    }
  }

  await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    busName: options.busName,
    events: () => received,
    addRule: (pattern, target) => {
      rules.push({ pattern, target });
    },
    failNext: ({ calls = 0, entries = 0 }) => Object.assign(faults, { calls, entries }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The per-entry answer EventBridge gives a malformed entry, or `undefined` for a good one. */
function entryProblem(entry: z.infer<typeof entryInput>, busName: string) {
  if (entry.Source === undefined || entry.DetailType === undefined || entry.Detail === undefined) {
    return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter(s) Source, DetailType or Detail are missing' };
  }
  if (
    entry.EventBusName !== undefined &&
    entry.EventBusName !== busName &&
    !entry.EventBusName.endsWith(`/${busName}`)
  ) {
    return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${entry.EventBusName} does not exist` };
  }
  try {
    const detail: unknown = JSON.parse(entry.Detail);
    // Nested deeper than JSON.stringify can write back (thousands of levels), it could be neither listed nor passed on.
    JSON.stringify(detail);
    if (typeof detail === 'object' && detail !== null && !Array.isArray(detail)) return undefined;
  } catch {
    // Answered below, like any other malformed detail.
  }
  return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed' };
}
