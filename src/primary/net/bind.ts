// Binding a TCP server for the primary (the service port, the admin port): bind errors become a
// WardenError that names the address and what to do. Acts only on the server it is given.

import type { AddressInfo, Server } from 'node:net';
import { WardenError, errnoCode } from '../../errors.js';

export function listenOn(server: Server, host: string, port: number, what: string): Promise<AddressInfo> {
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
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
