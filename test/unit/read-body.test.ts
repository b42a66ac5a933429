/**
 * Every local server reads bodies through `readBody`. A client still sending a body the server refuses must get the
 * refusal, not a broken pipe: so an oversized body is read to its end first, unless it passes the hard cap.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { readBody, RequestTooLargeError } from '../../local/http/read-body.ts';

const LIMIT = 1024;
/** Whether the request had been read to its end when `readBody` refused it, per request path. */
const completeWhenRefused = new Map<string, boolean>();
let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((request, response) => {
    readBody(request, LIMIT).then(
      (body) => response.end(`read ${body.length}`),
      (error: unknown) => {
        if (!(error instanceof RequestTooLargeError)) throw error;
        completeWhenRefused.set(request.url!, request.complete);
        response.writeHead(413).end(error.message);
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function post(path: string, body: Buffer): Promise<{ status: number; text: string }> {
  return fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body }).then(async (response) => ({
    status: response.status,
    text: await response.text(),
  }));
}

test('a body within the limit is read whole', async () => {
  expect(await post('/within', Buffer.alloc(LIMIT, 97))).toEqual({ status: 200, text: `read ${LIMIT}` });
});

test('a body declared over the limit is read to its end before the refusal, so the client gets the 413', async () => {
  const answer = await post('/declared-over', Buffer.alloc(LIMIT * 8, 97));
  expect(answer).toEqual({ status: 413, text: `Request body must be at most ${LIMIT} bytes` });
  expect(completeWhenRefused.get('/declared-over')).toBe(true);
});

test('a body declared past the hard cap (16 times the limit) is refused before any of it is read', async () => {
  const status = await new Promise<number>((resolve, reject) => {
    const declared = httpRequest(
      { host: '127.0.0.1', port, path: '/past-the-cap', method: 'POST', headers: { 'content-length': LIMIT * 16 + 1 } },
      (response) => {
        response.resume();
        resolve(response.statusCode!);
      },
    );
    declared.on('error', reject);
    // Headers only: the answer must come without the body.
    declared.flushHeaders();
  });
  expect(status).toBe(413);
  expect(completeWhenRefused.get('/past-the-cap')).toBe(false);
});
