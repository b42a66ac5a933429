/** Reading a request body with a size limit, for every local server. */
import type { IncomingMessage } from 'node:http';
import { LocalStackError } from '../errors.ts';

/** The body is larger than the server accepts. */
export class RequestTooLargeError extends LocalStackError {
  override readonly name = 'RequestTooLargeError';

  constructor(readonly limit: number) {
    super(`Request body must be at most ${limit} bytes`);
  }
}

/**
 * Reads a request body up to `limit` bytes. A body declared larger is refused at once, and what the client still sends
 * of it is read and dropped, so that it reads the refusal rather than meet a closed connection; a larger body sent
 * without a length is read to its end (and dropped) before the refusal. Either way, past a hard cap of 16 times the
 * limit, the connection is cut.
 */
export async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const hardCap = limit * 16;
  if (Number(request.headers['content-length'] ?? 0) > limit) {
    dropBody(request, hardCap);
    throw new RequestTooLargeError(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > hardCap) {
      request.socket.destroy();
      break;
    }
    if (size <= limit) chunks.push(chunk);
  }
  if (size > limit) throw new RequestTooLargeError(limit);
  return Buffer.concat(chunks);
}

function dropBody(request: IncomingMessage, hardCap: number): void {
  let dropped = 0;
  request.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > hardCap) request.socket.destroy();
  });
}
