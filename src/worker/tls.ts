// HTTPS in a worker: connections arrive as plain TCP handles (the primary never sees TLS), so the
// worker terminates TLS itself with a tls.Server that never listens, then hands each decrypted
// socket to the app's server as node:https does. Works for every app shape, because every shape ends
// up as an http.Server here.

import { readFileSync } from 'node:fs';
import { Socket as NetSocket, type Server, type Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import type { WorkerConfig } from '../protocol/worker-config.js';

/**
 * The TCP socket a server-side TLS socket reads from. tls.Server keeps it as `_parent` (on every
 * Node line warden supports; the drain and upgrade tests in test/integration/tls.test.ts fail
 * without it); undefined if that ever changes.
 */
function carrierOf(secure: TLSSocket): Socket | undefined {
  const parent = (secure as unknown as { _parent?: unknown })._parent;
  return parent instanceof NetSocket ? parent : undefined;
}

/**
 * Wraps `target` so a plain socket given to the returned function reaches it after the TLS handshake.
 * `onSecure` comes first with the decrypted socket and the plain one it reads from: the worker's
 * request tracking follows the socket the app's requests are on.
 */
export function tlsTerminator(tls: NonNullable<WorkerConfig['tls']>, target: () => Server, onSecure: (secure: TLSSocket, carrier: Socket | undefined) => void): (socket: Socket) => void {
  const server = createServer({
    key: readFileSync(tls.keyfile),
    cert: readFileSync(tls.certfile),
    ...(tls.ca === undefined ? {} : { ca: readFileSync(tls.ca) }),
    // node:http reads ALPN to tell HTTP/1.1 from HTTP/2; warden serves HTTP/1.1.
    ALPNProtocols: ['http/1.1'],
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    onSecure(socket, carrierOf(socket));
    target().emit('connection', socket);
  });
  // A client that fails the handshake (wrong CA, plain HTTP on the HTTPS port) is its own problem:
  // the socket is destroyed, the worker carries on.
  server.on('tlsClientError', (_error, socket) => socket.destroy());
  return (socket) => server.emit('connection', socket);
}
