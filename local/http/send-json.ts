import type { ServerResponse } from 'node:http';

/**
 * Answers JSON from a local server. Never cached: the feeds and the control API carry buyers' details and
 * registration tokens.
 */
export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
  });
  response.end(payload);
}
