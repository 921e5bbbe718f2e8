// Captures a user script's own listen() on warden's port. The primary owns that port and hands the
// worker accepted sockets, so such a call must not bind: the server is kept for the worker to feed.
// Owns the patch of net.Server.prototype.listen (http, https and tls servers inherit it); it does not
// decide which server the worker serves (load.ts does).

import net from 'node:net';

/** What server.address() reports: host, family and port, or the socket's path with --uds. */
export type ServiceAddress = { address: string; family: string; port: number } | string;

export interface ListenIntercept {
  /** The first server that called listen() on warden's port, if any has. */
  captured(): net.Server | undefined;
  /** Settles once the first capture's 'listening' event (and so its listen callback) has run. */
  readonly listened: Promise<net.Server>;
  uninstall(): void;
}

/** The port a listen() call asks for; undefined for a pipe path, a handle or no port. Pure. */
export function requestedPort(args: readonly unknown[]): number | undefined {
  const first = args[0];
  if (typeof first === 'object' && first !== null) {
    // listen(options[, cb]); a handle ({ fd } or a server) has no `port` key and binds normally.
    return 'port' in first ? toPort((first as { port: unknown }).port) : undefined;
  }
  return toPort(first);
}

/** The unix socket path a listen() call asks for, if any. Pure. */
export function requestedPath(args: readonly unknown[]): string | undefined {
  const first = args[0];
  if (typeof first === 'object' && first !== null) {
    const path = (first as { path?: unknown }).path;
    return typeof path === 'string' ? path : undefined;
  }
  return typeof first === 'string' && !/^\d+$/.test(first) ? first : undefined;
}

function toPort(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  // process.env.PORT is a string, and listen('8000') means port 8000 to Node too.
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

/** Makes server.address() report the address warden serves on, although the server holds no socket. */
export function presentAddress(server: net.Server, address: ServiceAddress): void {
  Object.defineProperty(server, 'address', {
    value: () => (typeof address === 'string' ? address : { ...address }),
    configurable: true,
    writable: true,
  });
}

/**
 * Patches listen() until uninstall(). A call whose port is `port` does not bind: on the next tick the
 * server emits 'listening' (which runs the listen callback), as after a real bind. Every such call is
 * answered this way, but only the first server is captured: frameworks that bind one server per
 * address (Fastify on "localhost") start secondary servers that would receive nothing anyway.
 */
export function installListenIntercept(port: number, address: ServiceAddress): ListenIntercept {
  const originalListen = net.Server.prototype.listen;
  let isActive = true;
  let captured: net.Server | undefined;
  let onListened: (server: net.Server) => void = () => undefined;
  const listened = new Promise<net.Server>((resolve) => {
    onListened = resolve;
  });

  // With --uds the service is the socket path (PORT holds it), not a port.
  const isService = (args: readonly unknown[]) => (typeof address === 'string' ? requestedPath(args) === address : requestedPort(args) === port);

  function listen(this: net.Server, ...args: unknown[]): net.Server {
    if (!isActive || !isService(args)) return Reflect.apply(originalListen, this, args) as net.Server;
    const callback = args.at(-1);
    if (typeof callback === 'function') this.once('listening', callback as () => void);
    presentAddress(this, address);
    const isFirst = captured === undefined;
    if (isFirst) captured = this;
    process.nextTick(() => {
      this.emit('listening');
      if (isFirst) onListened(this);
    });
    return this;
  }

  net.Server.prototype.listen = listen as typeof originalListen;
  return {
    captured: () => captured,
    listened,
    uninstall() {
      isActive = false;
      // An APM agent loaded by the app may have wrapped listen() over ours; keep its wrapper then,
      // ours now only passes calls through.
      if (net.Server.prototype.listen === listen) net.Server.prototype.listen = originalListen;
    },
  };
}
