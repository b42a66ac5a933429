/**
 * The local servers answer only requests addressed to this machine by a loopback name. Listening on 127.0.0.1 keeps
 * other machines out, but not a web page the developer opens while `npm start` runs: by DNS rebinding, its own host
 * name is re-pointed at 127.0.0.1, and the browser then sends that page's requests (and lets it read the answers) to
 * the local servers, with the page's name in `Host`. A name that is not a loopback one is refused before any handler
 * sees the request. So is, unless the server takes them as its AWS counterpart does, a request a page of another site
 * sent (its `Origin` is not a loopback one): a page cannot read the answer, but a blind form post would still move
 * the clock, add a license or subscribe its own URL to Marketplace's notifications.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

/** IPv4's whole loopback network, 127.0.0.0/8, written as a literal address. */
const ipv4Loopback = /^127(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/**
 * Whether a `Host` header names this machine: `localhost` or a name below it (RFC 6761 reserves them for loopback and
 * browsers resolve them so without asking DNS), a 127.x.x.x address or `[::1]`, with any port or none.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = hostName(host.trim().toLowerCase());
  if (name === undefined) return false;
  return name === 'localhost' || name.endsWith('.localhost') || ipv4Loopback.test(name) || name === '[::1]';
}

/** The name part of `name[:port]` or `[v6]:port`; undefined when the port is not a number. */
function hostName(host: string): string | undefined {
  const portStart = host.startsWith('[') ? host.indexOf(']') + 1 : host.lastIndexOf(':');
  if (portStart <= 0 || portStart >= host.length) return host;
  const port = host.slice(portStart);
  return /^:\d{1,5}$/.test(port) ? host.slice(0, portStart) : undefined;
}

/**
 * Whether a request's `Origin` is a page of another site than this machine: browsers send it with every request but a
 * same-origin GET (and `null` from a sandboxed or `file:` page); a request without one did not come from a page.
 */
export function isForeignOrigin(origin: string | undefined): boolean {
  if (origin === undefined) return false;
  try {
    return !isLoopbackHost(new URL(origin).host);
  } catch {
    return true;
  }
}

export interface LoopbackOptions {
  /** Whether requests from pages of other sites are served: only where AWS serves them (the API's routes). */
  readonly foreignOrigins?: 'refuse' | 'serve';
}

/**
 * `listener`, behind the checks: a request whose `Host` is not a loopback name, or (by default) whose `Origin` is a
 * page of another site, gets a 403 that says why.
 */
export function loopbackOnly(listener: RequestListener, options: LoopbackOptions = {}): RequestListener {
  return (request: IncomingMessage, response: ServerResponse) => {
    const { host, origin } = request.headers;
    if (!isLoopbackHost(host)) {
      refuse(
        request,
        response,
        `Forbidden: this local server answers only requests addressed to localhost (or a name below it), ` +
          `127.x.x.x or [::1], not to ${JSON.stringify(host ?? '')}, so that no web page can reach it by DNS ` +
          'rebinding.',
      );
    } else if (options.foreignOrigins !== 'serve' && isForeignOrigin(origin)) {
      refuse(
        request,
        response,
        `Forbidden: this local server answers no request a page of another site sends (Origin ` +
          `${JSON.stringify(origin)}), so that no web page open while it runs can drive it. Call it from your ` +
          'code, a terminal or a page it serves.',
      );
    } else {
      listener(request, response);
    }
  };
}

/**
 * A JSON `message`, as every local server answers what it does not serve, in the shape of an AWS JSON error too: an
 * AWS SDK pointed at the simulator (or the SQS endpoint) reports it as an `AccessDeniedException` saying why, not as
 * a body it could not parse.
 */
function refuse(request: IncomingMessage, response: ServerResponse, message: string): void {
  request.resume();
  response
    .writeHead(403, {
      'content-type': 'application/json',
      'x-amzn-errortype': ACCESS_DENIED,
      'x-amzn-requestid': randomUUID(),
      connection: 'close',
    })
    .end(JSON.stringify({ __type: ACCESS_DENIED, message }));
}

const ACCESS_DENIED = 'AccessDeniedException';
