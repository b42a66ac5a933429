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
 * Reads a request body up to `limit` bytes. A body declared larger is refused at once; a larger chunked body is
 * drained (up to a hard cap, then the socket is dropped) before the error, so the client can still read the answer
 * rather than meet a reset connection.
 */
export async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  if (Number(request.headers['content-length'] ?? 0) > limit) throw new RequestTooLargeError(limit);
  const hardCap = limit * 16;
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
