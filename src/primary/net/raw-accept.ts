// Accepting connections as raw handles. The primary only passes connections on, so it takes each
// accepted TCP handle straight from the listener (as node:cluster's round-robin primary does) instead
// of letting node:net wrap it in a net.Socket it would never read from: that wrapper was a sizeable
// share of the primary's cost per connection. The worker wraps the handle it receives.

import type { Server } from 'node:net';

/** The libuv TCP handle of an accepted connection (node's internal TCPWrap). */
export interface ConnectionHandle {
  close(callback?: () => void): void;
  getpeername(out: { address?: string; port?: number }): number;
}

/** The libuv TCP handle of the listening socket; it can be sent to a worker (`--balance shared`). */
export interface ListeningHandle {
  onconnection: (status: number, handle: ConnectionHandle | undefined) => void;
  close(callback?: () => void): void;
  /** listen(2) again: on a socket that listens already it only sets the backlog, then libuv polls it. */
  listen?(backlog: number): number;
}

/** The accept queue's length, as node:net asks for it. */
export const BACKLOG = 511;

/** The listening handle of a listening server, or undefined once it is closed. */
export function listeningHandle(server: Server): ListeningHandle | undefined {
  return (server as unknown as { _handle: ListeningHandle | null })._handle ?? undefined;
}

/** After `server.listen()`: every accepted connection goes to `onHandle`, never to 'connection'. */
export function acceptRawHandles(server: Server, onHandle: (handle: ConnectionHandle) => void): void {
  const listening = listeningHandle(server);
  if (listening === undefined) throw new Error('acceptRawHandles: the server is not listening');
  // A non-zero status is a failed accept (EMFILE and the like); libuv retries on the next event.
  listening.onconnection = (status, handle) => {
    if (status === 0 && handle !== undefined) onHandle(handle);
  };
}

export function remotePort(handle: ConnectionHandle): number | undefined {
  const out: { port?: number } = {};
  return handle.getpeername(out) === 0 ? out.port : undefined;
}

export function remoteAddress(handle: ConnectionHandle): string | undefined {
  const out: { address?: string } = {};
  return handle.getpeername(out) === 0 ? out.address : undefined;
}
