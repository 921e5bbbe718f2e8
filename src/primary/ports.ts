// Binds what the primary answers on, in order: the service socket (an inherited fd, TCP or a unix
// socket), the admin server, the control socket. It fails fast with the first bind's error and
// releases what it had already bound; it starts no worker and keeps no state.

import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import type { ServeOptions } from '../config/options.js';
import { defaultControlPath } from '../control/protocol.js';
import type { ControlServer } from '../control/server.js';
import { LOG_EVENTS } from '../log/events.js';
import type { Logger } from '../log/logger.js';
import { isLoopbackHost, type AdminServer } from './admin/admin-server.js';
import type { PrimaryInfo } from './admin/report.js';
import type { Listener } from './net/listener.js';
import { inheritedSockets } from './socket-activation.js';

export interface BoundPorts {
  /** The service socket as a worker must report it (workerConfig). */
  service: AddressInfo | (AddressInfo & { path: string });
  /** The addresses as /workers and the API show them: with --uds, host '' and port 0, and the path. */
  listen: PrimaryInfo['listen'];
  admin: PrimaryInfo['admin'];
  control: string;
}

export async function bindPorts(options: ServeOptions, servers: { listener: Listener; admin: AdminServer; control: ControlServer }, log: Logger): Promise<BoundPorts> {
  const { listener, admin, control } = servers;
  // --fd, or systemd socket activation: the socket outlives this primary, so a restart refuses nothing.
  const inherited = inheritedSockets(process.env, process.pid, options.fd);
  const unix = (path: string): AddressInfo & { path: string } => ({ address: '', family: 'unix', port: 0, path });
  let service: AddressInfo | (AddressInfo & { path: string });
  if (inherited.service !== undefined) {
    const bound = await listener.listenFd(inherited.service, 'service');
    service = 'path' in bound ? unix(bound.path) : bound;
  } else {
    service = options.uds === undefined
      ? await listener.listen(options.host, options.port, 'service')
      : unix((await listener.listenUnix(options.uds, options.udsMode, 'service')).path);
  }
  const socketPath = 'path' in service ? (service as { path: string }).path : undefined;
  const listenHost = inherited.service === undefined ? options.host : service.address;
  const bindAdmin = inherited.admin === undefined ? admin.listen(options.adminHost, options.adminPort) : admin.listenFd(inherited.admin);
  const adminAddress = await bindAdmin.catch(async (error: unknown) => {
    await listener.close();
    throw error;
  });
  // Named by the absolute path of --uds, as `warden reload --uds PATH` finds it from any directory.
  const controlPath = options.control ?? defaultControlPath(socketPath === undefined ? service.port : resolvePath(socketPath), process.env, process.getuid?.() ?? 0, tmpdir());
  await control.listen(controlPath).catch(async (error: unknown) => {
    await Promise.all([listener.close(), admin.close()]);
    throw error;
  });
  if (!isLoopbackHost(options.adminHost)) {
    log.log('warn', LOG_EVENTS.adminExposed,
      `the admin server listens on ${options.adminHost}, reachable from other machines: it shows worker pids, file paths and incidents with stacks; keep it private (--admin-host 127.0.0.1, a firewall, or a network policy that admits only the probes)`,
      { host: options.adminHost, port: adminAddress.port });
  }
  return {
    service,
    listen: socketPath === undefined ? { host: listenHost, port: service.port } : { host: '', port: 0, path: socketPath },
    admin: { host: inherited.admin === undefined ? options.adminHost : adminAddress.address, port: adminAddress.port },
    control: controlPath,
  };
}
