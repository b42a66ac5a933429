/**
 * Every local server reads bodies through `readBody`. A client still sending a body the server refuses must get the
 * refusal, not a broken pipe: so what comes of an oversized body is read and dropped, up to the hard cap.
 */
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import { readBody, RequestTooLargeError } from '../../local/http/read-body.ts';

const LIMIT = 1024;
/** Whether the request had been read to its end when `readBody` refused it, per request path. */
const completeWhenRefused = new Map<string, boolean>();
/** The server's side of each request's connection, per request path. */
const sockets = new Map<string, Socket>();
let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((request, response) => {
    sockets.set(request.url!, request.socket);
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

/** POSTs `body` with its length through `agent`: the answer, and whether the request went on a reused connection. */
function postThrough(agent: Agent, path: string, body: Buffer): Promise<{ status: number; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const sent = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', agent }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode!, reused: sent.reusedSocket }));
    });
    sent.on('error', reject);
    sent.end(body);
  });
}

test('a body declared over the limit is refused at once and the rest of it dropped: the connection serves on', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  expect(await postThrough(agent, '/declared-over', Buffer.alloc(LIMIT * 15, 97))).toEqual({
    status: 413,
    reused: false,
  });
  expect(completeWhenRefused.get('/declared-over')).toBe(false);
  expect(await postThrough(agent, '/after-the-refusal', Buffer.alloc(10, 97))).toEqual({ status: 200, reused: true });
  agent.destroy();
});

test('a body declared past the hard cap (16 times the limit) is refused before any of it comes', async () => {
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

/** A body sent without a length (chunked), as a stream of `size` bytes. */
function chunked(path: string, size: number): Promise<{ status: number; text: string }> {
  const chunk = Buffer.alloc(LIMIT, 97);
  let left = size;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (left <= 0) return controller.close();
      controller.enqueue(chunk.subarray(0, Math.min(left, chunk.length)));
      left -= chunk.length;
    },
  });
  return fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body, duplex: 'half' }).then(async (response) => ({
    status: response.status,
    text: await response.text(),
  }));
}

test('a body sent without a length is read to the hard cap: at the cap the client gets the 413', async () => {
  expect((await chunked('/chunked-at-the-cap', LIMIT * 16)).status).toBe(413);
  expect(completeWhenRefused.get('/chunked-at-the-cap')).toBe(true);
});

test('a body sent without a length past the hard cap is cut off: the connection is dropped', async () => {
  await expect(chunked('/chunked-past-the-cap', LIMIT * 64)).rejects.toThrow();
  expect(sockets.get('/chunked-past-the-cap')?.destroyed).toBe(true);
});

test('a body declared past the hard cap and sent all the same is dropped, and its connection cut at the cap', async () => {
  const sent = 4 * 1024 * 1024;
  const outcome = await new Promise<string>((resolve) => {
    const declared = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/declared-past-the-cap-and-sent',
        method: 'POST',
        headers: { 'content-length': sent },
      },
      (response) => {
        response.resume();
        resolve(`answered ${response.statusCode}`);
      },
    );
    declared.on('error', () => resolve('cut'));
    declared.end(Buffer.alloc(sent, 97));
  });
  expect(['answered 413', 'cut']).toContain(outcome);
  const socket = sockets.get('/declared-past-the-cap-and-sent')!;
  await vi.waitFor(() => expect(socket.destroyed).toBe(true), { timeout: 30_000 });
  // Cut near the cap (a read takes up to 64 KiB at a time), not after taking in the 4 MiB.
  expect(socket.bytesRead).toBeLessThan(LIMIT * 16 + 256 * 1024);
});
