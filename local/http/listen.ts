import type { RequestListener, Server } from 'node:http';
import { LocalStackError } from '../errors.ts';
import { loopbackOnly, type LoopbackOptions } from './loopback-host.ts';

/** The port a server was to listen on is taken. */
export class PortInUseError extends LocalStackError {
  override readonly name = 'PortInUseError';

  constructor(
    readonly port: number,
    readonly host: string,
    options?: ErrorOptions,
  ) {
    super(`port ${port} on ${host} is already in use`, options);
  }
}

/**
 * The message for a port in use, naming the setting that chose it (`settings`: variable name to port and what
 * listens there), so that the fix is plain.
 */
export function portInUseMessage(
  error: Pick<PortInUseError, 'message' | 'port'>,
  settings: Readonly<Record<string, { readonly port: number; readonly what: string }>>,
): string {
  const [variable, setting] = Object.entries(settings).find(([, candidate]) => candidate.port === error.port) ?? [];
  return variable === undefined || setting === undefined
    ? `${error.message}: stop what uses it`
    : `${error.message} (${variable}, ${setting.what}): stop what uses it, or set ${variable} to another port ` +
        '(0 picks a free one)';
}

/**
 * Starts `server` listening; rejects (rather than crashing the process) when the port is taken. Every local server
 * starts here, so this is where each one is put behind the loopback checks (`loopback-host.ts`): the request handlers
 * given to `createServer` run only for requests addressed to this machine, and not sent by a page of another site
 * unless `options` say so.
 */
export function listen(server: Server, port: number, host: string, options: LoopbackOptions = {}): Promise<void> {
  const handlers = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on(
    'request',
    loopbackOnly((request, response) => handlers.forEach((handler) => handler(request, response)), options),
  );
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(port, host, { cause: error }) : error);
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}
