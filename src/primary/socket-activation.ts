// Which inherited descriptors warden serves on: systemd's socket activation (sd_listen_fds(3):
// LISTEN_PID is this process, LISTEN_FDS descriptors from 3 on, LISTEN_FDNAMES naming them) and
// `--fd N`. Pure: the environment and pid are passed in; the listeners are opened in connections.ts.

import { WardenError } from '../errors.js';
import { FD_NAMES } from '../os/sd-notify.js';

/** sd_listen_fds(3): the first passed descriptor. */
export const SD_LISTEN_FDS_START = 3;

export interface InheritedSockets {
  /** The service's listening descriptor, or undefined to bind --host/--port (or --uds). */
  service: number | undefined;
  /** The admin server's, or undefined to bind --admin-host/--admin-port. */
  admin: number | undefined;
  /** Where the service descriptor came from, for logs: "--fd 3", "systemd (LISTEN_FDNAMES service)". */
  source: string | undefined;
}

/**
 * Socket activation applies only when LISTEN_PID is this process (the variables leaked to a child are
 * not for it). Names: "service" and "admin"; a single unnamed descriptor (systemd writes "unknown"
 * without FileDescriptorName=) is the service's. `--fd` wins over socket activation for the service.
 */
export function inheritedSockets(env: Readonly<Record<string, string | undefined>>, pid: number, fd: number | undefined): InheritedSockets {
  const activated = activatedSockets(env, pid);
  if (fd !== undefined) return { service: fd, admin: activated.admin, source: `--fd ${fd}` };
  return activated;
}

function activatedSockets(env: Readonly<Record<string, string | undefined>>, pid: number): InheritedSockets {
  const none: InheritedSockets = { service: undefined, admin: undefined, source: undefined };
  if (env.LISTEN_PID === undefined || Number(env.LISTEN_PID) !== pid) return none;
  const count = Number(env.LISTEN_FDS);
  if (!Number.isInteger(count) || count <= 0) return none;
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  const fds = Array.from({ length: count }, (_, index) => ({ fd: SD_LISTEN_FDS_START + index, name: names[index] ?? '' }));
  const named = (name: string) => fds.find((entry) => entry.name === name)?.fd;
  const admin = named(FD_NAMES.admin);
  let service = named(FD_NAMES.service);
  let source = `systemd (LISTEN_FDNAMES ${FD_NAMES.service})`;
  if (service === undefined) {
    const others = fds.filter((entry) => entry.fd !== admin);
    if (others.length !== 1) {
      throw new WardenError('WARDEN_CONFIG', `systemd passed ${count} sockets (LISTEN_FDNAMES "${env.LISTEN_FDNAMES ?? ''}") and none is named "${FD_NAMES.service}"`, {
        hint: `set FileDescriptorName=${FD_NAMES.service} in the .socket unit of the service port (and FileDescriptorName=${FD_NAMES.admin} for the admin port)`,
      });
    }
    service = (others[0] as { fd: number }).fd;
    source = `systemd (fd ${service})`;
  }
  return { service, admin, source };
}
