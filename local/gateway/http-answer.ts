/**
 * What the gateway sends back, whoever produced it (the function or API Gateway itself), and the one place that writes
 * it to the socket.
 */
import type { ServerResponse } from 'node:http';

/** One header line, with the name cased as it will be sent. A name may repeat (`Set-Cookie`). */
export type HeaderLine = readonly [name: string, value: string];

export interface HttpAnswer {
  readonly statusCode: number;
  readonly headers: readonly HeaderLine[];
  readonly body: Buffer;
}

/**
 * Writes the answer with `extraHeaders` after its own, each header on its own line as given (so every `Set-Cookie`
 * survives) and a `Content-Length`. Nothing is written to a response that is already gone: the client may have hung up,
 * or `close()` may have ended the connection, while the function was still running.
 */
export function sendAnswer(response: ServerResponse, answer: HttpAnswer, extraHeaders: readonly HeaderLine[]): void {
  if (response.destroyed || response.headersSent) return;
  const lines = [...answer.headers, ...extraHeaders, ['Content-Length', String(answer.body.length)] as const];
  response.writeHead(
    answer.statusCode,
    lines.flatMap(([name, value]) => [name, value]),
  );
  response.end(answer.body);
}
