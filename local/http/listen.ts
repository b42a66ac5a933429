import { maxHeaderSize, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { LocalStackError } from '../errors.ts';
import { loopbackOnly, type LoopbackOptions } from './loopback-host.ts';

/** The port a server was to listen on is taken. */
export class PortInUseError extends LocalStackError {
  override readonly name = 'PortInUseError';

  constructor(
    readonly port: number,
    readonly host: string,
    options?: ErrorOptions,
  ) {
    super(`port ${port} on ${host} is already in use`, options);
  }
}

/**
 * The message for a port in use, naming the setting that chose it (`settings`: variable name to port and what
 * listens there), so that the fix is plain.
 */
export function portInUseMessage(
  error: Pick<PortInUseError, 'message' | 'port'>,
  settings: Readonly<Record<string, { readonly port: number; readonly what: string }>>,
): string {
  const [variable, setting] = Object.entries(settings).find(([, candidate]) => candidate.port === error.port) ?? [];
  return variable === undefined || setting === undefined
    ? `${error.message}: stop what uses it`
    : `${error.message} (${variable}, ${setting.what}): stop what uses it, or set ${variable} to another port ` +
        '(0 picks a free one)';
}

/**
 * Starts `server` listening; rejects (rather than crashing the process) when the port is taken. Every local server
 * starts here, so this is where each one is put behind the loopback checks (`loopback-host.ts`): the request handlers
 * given to `createServer` run only for requests addressed to this machine, and not sent by a page of another site
 * unless `options` say so.
 */
export function listen(server: Server, port: number, host: string, options: LoopbackOptions = {}): Promise<void> {
  // Responses not yet finished, by connection: a request Node cannot read behind one (pipelined) closes it instead.
  const answering = new WeakMap<Duplex, number>();
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) =>
    answerUnreadableRequest(error, socket, (answering.get(socket) ?? 0) > 0),
  );
  const handlers = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const { socket } = request;
    answering.set(socket, (answering.get(socket) ?? 0) + 1);
    response.once('close', () => answering.set(socket, (answering.get(socket) ?? 1) - 1));
  });
  server.on(
    'request',
    loopbackOnly((request, response) => handlers.forEach((handler) => handler(request, response)), options),
  );
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(port, host, { cause: error }) : error);
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}

/** What Node cannot read as a request, by its error code: the status, and what to tell the caller. */
const UNREADABLE_REQUESTS: Readonly<Record<string, readonly [status: string, message: string]>> = {
  HPE_HEADER_OVERFLOW: [
    '431 Request Header Fields Too Large',
    `The request line and headers must be at most ${maxHeaderSize / 1024} KiB`,
  ],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: ['413 Payload Too Large', 'The chunk extensions are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: ['408 Request Timeout', 'The request was not received in time'],
};

/**
 * Answers a request Node could not read (headers too large, not HTTP, too slow) as every local server answers, with a
 * JSON message, where Node's own answer has no body at all. A connection already gone, or still sending the answer to
 * an earlier request (`answering`), is closed: an answer written into another would corrupt both.
 */
function answerUnreadableRequest(error: Error & { code?: string }, socket: Duplex, answering: boolean): void {
  if (error.code === 'ECONNRESET' || !socket.writable || answering) {
    socket.destroy();
    return;
  }
  const [status, message] = UNREADABLE_REQUESTS[error.code ?? ''] ?? [
    '400 Bad Request',
    'The request is not valid HTTP',
  ];
  const body = JSON.stringify({ message });
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
