/**
 * The local servers answer only requests addressed to this machine by a loopback name. Listening on 127.0.0.1 keeps
 * other machines out, but not a web page the developer opens while `npm start` runs: by DNS rebinding, its own host
 * name is re-pointed at 127.0.0.1, and the browser then sends that page's requests (and lets it read the answers) to
 * the local servers, with the page's name in `Host`. A name that is not a loopback one is refused before any handler
 * sees the request.
 */
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

/** `listener`, behind the check: a request whose `Host` is not a loopback name gets a 403 that says why. */
export function loopbackOnly(listener: RequestListener): RequestListener {
  return (request: IncomingMessage, response: ServerResponse) => {
    if (isLoopbackHost(request.headers.host)) {
      listener(request, response);
      return;
    }
    request.resume();
    response
      .writeHead(403, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' })
      .end(
        `Forbidden: this local server answers only requests addressed to localhost (or a name below it), ` +
          `127.x.x.x or [::1], not to ${JSON.stringify(request.headers.host ?? '')}, so that no web page can reach ` +
          'it by DNS rebinding.\n',
      );
  };
}
