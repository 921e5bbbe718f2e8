// Binding a TCP server for the primary (the service port, the admin port): bind errors become a
// WardenError that names the address and what to do. Acts only on the server it is given.

import type { AddressInfo, Server } from 'node:net';
import { WardenError, errnoCode } from '../../errors.js';
import { BACKLOG } from './raw-accept.js';

/** listen() on an inherited descriptor; a descriptor that is not a listening socket becomes a WardenError naming it. */
export function listenOnFd(server: Server, fd: number, what: string, backlog = BACKLOG): Promise<AddressInfo | { path: string }> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      const code = errnoCode(error);
      reject(new WardenError('WARDEN_LISTEN', `cannot listen on file descriptor ${fd} for the ${what}: ${code ?? error.message}`, {
        hint: code === 'EBADF' || code === 'EINVAL' || code === 'ENOTSOCK'
          ? `descriptor ${fd} is not a socket this process inherited; pass a bound TCP or unix stream socket (systemd-socket-activate, or a .socket unit)`
          : undefined,
        cause: error,
      }));
    };
    server.once('error', onError);
    try {
      server.listen({ fd, backlog }, () => {
        server.off('error', onError);
        const address = server.address();
        resolve(typeof address === 'string' ? { path: address } : (address as AddressInfo));
      });
    } catch (error) {
      // node:net throws at once for a descriptor of the wrong type (a file, a pipe).
      server.off('error', onError);
      onError(error as Error);
    }
  });
}

export function listenOn(server: Server, host: string, port: number, what: string, backlog = BACKLOG): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      const code = errnoCode(error);
      const address = `${host}:${port}`;
      const hint =
        code === 'EADDRINUSE' ? `another process is using ${address}; stop it or choose another port` :
        code === 'EACCES' ? `ports below 1024 need privileges; choose a port above 1024` :
        code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' ? `${host} is not an address of this machine` : undefined;
      reject(new WardenError('WARDEN_LISTEN', `cannot listen on ${address} for the ${what}: ${code ?? error.message}`, { hint, cause: error }));
    };
    server.once('error', onError);
    server.listen({ host, port, exclusive: true, backlog }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
