/**
 * A seller's app as a webhook endpoint, on this machine: it answers every call 204 and keeps, for each, the event's
 * detail type and whether its signature checks out with the secret the app was given.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIGNATURE_HEADER, verifyWebhookSignature } from '../../lambdas/core/webhook-signature.ts';
import { listen } from '../../local/http/listen.ts';

export interface WebhookApp {
  readonly url: string;
  /** The calls so far, in the order they came. */
  readonly calls: readonly { readonly type: string; readonly valid: boolean }[];
  close(): Promise<void>;
}

export async function startWebhookApp(secret: string, path = '/'): Promise<WebhookApp> {
  const calls: { type: string; valid: boolean }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const signature = request.headers[SIGNATURE_HEADER];
      calls.push({
        type: (JSON.parse(body) as { 'detail-type': string })['detail-type'],
        valid: verifyWebhookSignature(secret, typeof signature === 'string' ? signature : undefined, body, new Date()),
      });
      response.writeHead(204).end();
    });
  });
  await listen(server, 0, '127.0.0.1');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
