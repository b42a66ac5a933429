/**
 * Marketplace messages (its lifecycle events and legacy SNS notifications) into the lifecycle queue, locally, as AWS
 * delivers them. In AWS an EventBridge rule on the default bus sends the `aws.agreement-marketplace` events to the
 * queue (the message body is the event), and the queue is subscribed to the legacy products' SNS topics with raw
 * message delivery off (the body is the SNS envelope). Here the simulator pushes those same bodies to a small in-process
 * HTTP endpoint, with one push subscription per family the configuration receives, and each body enters the queue
 * exactly as it was pushed. What the simulator published but had not pushed when the stack stopped (even by `kill -9`)
 * is queued at the next start, from its feed (`RelayedEvents`): once Marketplace has sent a message, the queue gets it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../lib/config.ts';
import { listen } from './http/listen.ts';
import { handledRequests } from './http/request-handler.ts';
import { readBody, RequestTooLargeError } from './http/read-body.ts';
import type { LocalQueue } from './queue.ts';
import type { SimulatorControl } from '../simulator/control-client.ts';
import { SEQUENCE_HEADER, type EventFormat, type PublishedEvent } from '../simulator/lifecycle-events.ts';
import type { RelayedEvents } from './relayed-events.ts';

export interface MarketplaceMessageRelayOptions {
  readonly control: SimulatorControl;
  /** Which families to receive, as configured (`lifecycle.eventSources`). */
  readonly eventSources: Config['lifecycle']['eventSources'];
  readonly queue: Pick<LocalQueue, 'send' | 'flushed'>;
  /** The simulator's feed of published events (in process): what a stop kept from being pushed is read there. */
  readonly feed: (afterSequence: number, format: EventFormat) => readonly PublishedEvent[];
  /** How far each family was queued, kept across restarts with a data directory. */
  readonly relayed: RelayedEvents;
}

export interface MarketplaceMessageRelay {
  /** The endpoint the simulator pushes to. */
  readonly url: string;
  close(): Promise<void>;
}

/** SQS's largest message: a larger notification could not be queued in AWS either. */
const MAX_MESSAGE_BYTES = 256 * 1024;

export async function startMarketplaceMessageRelay(
  options: MarketplaceMessageRelayOptions,
): Promise<MarketplaceMessageRelay> {
  const { queue, feed, relayed } = options;
  const latestOf = (format: EventFormat) => feed(0, format).at(-1)?.sequence ?? 0;
  // Pushes wait until what a stop left unpushed is queued: a newer event's mark must not pass an older one not queued.
  let caughtUp: () => void = () => undefined;
  const catchingUp = new Promise<void>((resolve) => (caughtUp = resolve));

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const format = formatOfPath(request.url);
    if (format === undefined) return answer(response, 404);
    if (request.method !== 'POST') return answer(response, 405);
    let body: string;
    try {
      body = (await readBody(request, MAX_MESSAGE_BYTES)).toString('utf8');
    } catch (error) {
      if (error instanceof RequestTooLargeError) return answer(response, 413);
      throw error;
    }
    await catchingUp;
    const sequence = Number(request.headers[SEQUENCE_HEADER]);
    // Queued already, from the feed at the start (a feed numbered below the mark was reset: its events are new).
    if (Number.isInteger(sequence) && sequence <= relayed.of(format) && latestOf(format) >= relayed.of(format)) {
      return answer(response, 200);
    }
    try {
      queue.send(body);
    } catch (error) {
      // The queue has stopped: the simulator keeps the notification and retries, as SNS and EventBridge do.
      console.error('Marketplace message relay: could not queue a message', error);
      return answer(response, 503);
    }
    // Answered once the message is as safe as in SQS: a stack killed now still delivers it after a restart.
    await queue.flushed();
    if (Number.isInteger(sequence)) await relayed.relayed(format, sequence);
    answer(response, 200);
  }

  const server = createServer(handledRequests('Marketplace message relay', handle));
  await listen(server, 0, '127.0.0.1');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  try {
    const formats = formatsOf(options.eventSources);
    for (const format of formats) await options.control.subscribeEvents(`${url}${format}`, format);
    for (const format of formats) await catchUp(format);
    caughtUp();
  } catch (error) {
    await close();
    throw error;
  }
  return { url, close };

  /**
   * Queues the events of `format` the feed holds past the mark. Those published since the subscription are pushed
   * too, and taken as queued already then (the mark has passed them).
   */
  async function catchUp(format: EventFormat): Promise<void> {
    const mark = relayed.of(format);
    const latest = latestOf(format);
    // The first start with this data directory: whatever the feed holds was pushed before, if at all.
    if (!relayed.kept) return relayed.relayed(format, latest);
    if (latest === mark) return;
    const missed = feed(latest < mark ? 0 : mark, format);
    for (const event of missed) queue.send(JSON.stringify(event.body));
    await queue.flushed();
    await relayed.relayed(format, latest);
  }
}

/** Each family is pushed to a path of its own (`/eventbridge`, `/sns`), so that a push's mark is its family's. */
function formatOfPath(path: string | undefined): EventFormat | undefined {
  const format = (path ?? '/').slice(1);
  return format === 'eventbridge' || format === 'sns' ? format : undefined;
}

function formatsOf(eventSources: Config['lifecycle']['eventSources']): EventFormat[] {
  return eventSources === 'both' ? ['eventbridge', 'sns'] : [eventSources];
}

function answer(response: ServerResponse, status: number): void {
  response.writeHead(status).end();
}
