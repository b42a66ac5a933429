import type { RequestListener, Server } from 'node:http';
import { loopbackOnly } from './loopback-host.ts';

/**
 * Starts `server` listening; rejects (rather than crashing the process) when the port is taken. Every local server
 * starts here, so this is where each one is put behind the loopback `Host` check (`loopback-host.ts`): the request
 * handlers given to `createServer` run only for requests addressed to this machine.
 */
export function listen(server: Server, port: number, host: string): Promise<void> {
  const handlers = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  server.on(
    'request',
    loopbackOnly((request, response) => handlers.forEach((handler) => handler(request, response))),
  );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
