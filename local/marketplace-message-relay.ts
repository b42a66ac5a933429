/**
 * Marketplace messages (its lifecycle events and legacy SNS notifications) into the lifecycle queue, locally, as AWS
 * delivers them. In AWS an EventBridge rule on the default bus sends the `aws.agreement-marketplace` events to the queue (the message body is the event),
 * and the queue is subscribed to the legacy products' SNS topics with raw message delivery off (the body is the SNS
 * envelope). Here the simulator pushes those same bodies to a small in-process HTTP endpoint, with one push
 * subscription per family the configuration receives, and each body enters the queue exactly as it was pushed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../lib/config.ts';
import { listen } from './http/listen.ts';
import { handledRequests } from './http/request-handler.ts';
import { readBody, RequestTooLargeError } from './http/read-body.ts';
import type { LocalQueue } from './queue.ts';
import type { SimulatorControl } from '../simulator/control-client.ts';
import type { EventFormat } from '../simulator/lifecycle-events.ts';

export interface MarketplaceMessageRelayOptions {
  readonly control: SimulatorControl;
  /** Which families to receive, as configured (`lifecycle.eventSources`). */
  readonly eventSources: Config['lifecycle']['eventSources'];
  readonly queue: Pick<LocalQueue, 'send' | 'flushed'>;
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
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'POST') return answer(response, 405);
    let body: string;
    try {
      body = (await readBody(request, MAX_MESSAGE_BYTES)).toString('utf8');
    } catch (error) {
      if (error instanceof RequestTooLargeError) return answer(response, 413);
      throw error;
    }
    try {
      options.queue.send(body);
    } catch (error) {
      // The queue has stopped: the simulator keeps the notification and retries, as SNS and EventBridge do.
      console.error('Marketplace message relay: could not queue a message', error);
      return answer(response, 503);
    }
    // Answered once the message is as safe as in SQS: a stack killed now still delivers it after a restart.
    await options.queue.flushed();
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
    for (const format of formatsOf(options.eventSources)) await options.control.subscribeEvents(url, format);
  } catch (error) {
    await close();
    throw error;
  }
  return { url, close };
}

function formatsOf(eventSources: Config['lifecycle']['eventSources']): EventFormat[] {
  return eventSources === 'both' ? ['eventbridge', 'sns'] : [eventSources];
}

function answer(response: ServerResponse, status: number): void {
  response.writeHead(status).end();
}
