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
 * Reads a request body up to `limit` bytes. A larger one is still read to its end (and dropped) before the error, so
 * that the client, which is still sending, gets the answer rather than a broken pipe. Past a hard cap of 16 times the
 * limit it is not worth reading: one declared that large is refused before it is read (what arrives meanwhile is
 * dropped), one sent that large without a length is refused once it passes the cap; either way the connection is cut
 * once that much has come.
 */
export async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const hardCap = limit * 16;
  if (Number(request.headers['content-length'] ?? 0) > hardCap) {
    let dropped = 0;
    request.on('data', (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > hardCap) request.socket.destroy();
    });
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
