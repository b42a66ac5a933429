/**
 * HTTP requests exactly as written: any method, any header, any bytes in the body. `fetch` refuses some methods
 * (TRACE) and rewrites bodies, which a test of hostile input must be able to send.
 */
import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http';

export interface RawRequest {
  readonly method: string;
  /** Path and query, sent as given. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
}

export interface RawAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export function sendRaw(origin: string, raw: RawRequest, agent: Agent): Promise<RawAnswer> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      {
        agent,
        hostname,
        port,
        method: raw.method,
        path: raw.path,
        // Node frames a body by itself only for some methods: sent with DELETE or OPTIONS without a length, a body
        // would be read as the next request on the connection.
        headers: raw.body === undefined ? raw.headers : { 'content-length': String(raw.body.length), ...raw.headers },
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', reject);
        incoming.on('end', () =>
          resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(raw.body);
  });
}
