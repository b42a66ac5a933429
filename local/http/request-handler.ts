import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/**
 * A server's request listener over an async `handle`: a request it fails to answer is logged under `server`'s name
 * and its connection closed, so that the client sees the failure rather than waiting. A client that hung up first
 * (an aborted upload, a closed tab) is no failure of the server's, and is not logged.
 */
export function handledRequests(
  server: string,
  handle: (request: IncomingMessage, response: ServerResponse) => Promise<unknown>,
): RequestListener {
  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!request.socket.destroyed) console.error(`${server}: request failed`, error);
      response.destroy();
    });
  };
}

/** Whether the caller hung up before its request was whole: it is owed no answer, and it is no failure to log. */
export function callerHungUp(request: IncomingMessage): boolean {
  return request.destroyed && !request.complete;
}
