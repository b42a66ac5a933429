/**
 * A proxy in front of DynamoDB Local that loses answers on purpose: DynamoDB applies the request, and the connection
 * is cut before its answer gets back (a network reset, a Lambda frozen mid-call), which an SDK takes for a failed
 * attempt and may send again.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AnswerLosingProxy {
  readonly url: string;
  /**
   * Loses the answers to the next `count` requests of the operation (`UpdateItem`, `TransactWriteItems`, ...), of
   * those whose body holds `holding` when given.
   */
  loseAnswers(operation: string, count: number, holding?: string): void;
  /** How many requests of the operation (of those whose body holds `holding`) reached DynamoDB through the proxy. */
  applied(operation: string, holding?: string): number;
  close(): Promise<void>;
}

async function bodyOf(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Headers a forwarded answer cannot carry as they came: the proxy sends the body whole, with its own length. */
const HOP_HEADERS = new Set(['connection', 'content-length', 'keep-alive', 'transfer-encoding']);

export async function startAnswerLosingProxy(target: string): Promise<AnswerLosingProxy> {
  const toLose = new Map<string, { count: number; holding: string | undefined }>();
  const forwarded: { readonly operation: string; readonly body: Buffer }[] = [];
  const server: Server = createServer((request, response) => {
    void (async () => {
      const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      const headers = Object.fromEntries(
        Object.entries(request.headers).filter(
          (entry): entry is [string, string] => typeof entry[1] === 'string' && !HOP_HEADERS.has(entry[0]),
        ),
      );
      const sent = await bodyOf(request);
      const answer = await fetch(`${target}${request.url ?? '/'}`, {
        method: request.method ?? 'POST',
        headers,
        body: sent,
      });
      const body = Buffer.from(await answer.arrayBuffer());
      forwarded.push({ operation, body: sent });
      const losing = toLose.get(operation);
      if (losing !== undefined && losing.count > 0 && (losing.holding === undefined || sent.includes(losing.holding))) {
        losing.count--;
        request.socket.destroy();
        return;
      }
      answer.headers.forEach((value, name) => {
        if (!HOP_HEADERS.has(name)) response.setHeader(name, value);
      });
      response.writeHead(answer.status).end(body);
    })().catch(() => request.socket.destroy());
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    loseAnswers: (operation, count, holding) => toLose.set(operation, { count, holding }),
    applied: (operation, holding) =>
      forwarded.filter(
        (request) => request.operation === operation && (holding === undefined || request.body.includes(holding)),
      ).length,
    close: () =>
      new Promise<void>((closed) => {
        server.closeAllConnections();
        server.close(() => closed());
      }),
  };
}
