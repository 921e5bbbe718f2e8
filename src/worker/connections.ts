// The connections handed to a worker, HTTP or not: how recently each was active, which were
// upgraded (WebSockets), and closing them on a drain (quiet ones first, upgraded ones at the
// graceful timeout). It knows nothing of requests: requests.ts says which sockets are busy.

import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { CLOSE_FRAME_GOING_AWAY, DRAIN_IDLE_MS, UPGRADED_CLOSE_WAIT_MS, isSwitchingProtocols, type SocketActivity } from './connection-close.js';

export class Connections {
  private readonly sockets = new Map<Socket, SocketActivity>();

  add(socket: Socket, now: number): void {
    this.sockets.set(socket, { bytesRead: 0, lastActiveAt: now, quietChecks: 0, upgraded: false, isWebSocket: false });
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** TLS: the decrypted socket takes the place of the TCP socket it reads from. */
  adoptSecure(secure: Socket, carrier: Socket | undefined, now: number): void {
    if (carrier !== undefined) this.sockets.delete(carrier);
    this.add(secure, now);
  }

  get count(): number {
    return this.sockets.size;
  }

  /** Upgraded connections open now (WebSockets and any other protocol taken over from HTTP). */
  get upgradedCount(): number {
    let count = 0;
    for (const activity of this.sockets.values()) if (activity.upgraded) count += 1;
    return count;
  }

  /** A keep-alive connection is quiet from its last answer on. */
  answeredOn(socket: Socket, now: number): void {
    const activity = this.sockets.get(socket);
    if (activity === undefined) return;
    activity.bytesRead = socket.bytesRead;
    activity.lastActiveAt = now;
    activity.quietChecks = 0;
  }

  /**
   * Close the connections not in `busy` that have been quiet for DRAIN_IDLE_MS (since their last
   * answer, or since a check saw bytes read: a request still being parsed counts as activity) and
   * three checks. Upgraded connections are left alone: they end on their own or at the graceful timeout.
   */
  closeIdle(busy: ReadonlySet<Socket>, now: number): void {
    for (const [socket, activity] of this.sockets) {
      if (busy.has(socket) || activity.upgraded) continue;
      const bytesRead = socket.bytesRead;
      if (bytesRead !== activity.bytesRead) {
        activity.bytesRead = bytesRead;
        activity.lastActiveAt = now;
        activity.quietChecks = 0;
        continue;
      }
      activity.quietChecks += 1;
      if (activity.quietChecks >= 3 && now - activity.lastActiveAt >= DRAIN_IDLE_MS) socket.destroy();
    }
  }

  /**
   * The graceful timeout came: end every upgraded connection. A WebSocket gets a close frame (1001,
   * going away) first, so its client sees a clean close and may reconnect to another worker; other
   * upgrades are just ended. A client that does not close its side in time is cut.
   */
  closeUpgraded(): void {
    for (const [socket, activity] of this.sockets) {
      if (!activity.upgraded) continue;
      if (activity.isWebSocket && socket.writable) socket.write(CLOSE_FRAME_GOING_AWAY);
      socket.end();
      setTimeout(() => socket.destroy(), UPGRADED_CLOSE_WAIT_MS).unref();
    }
  }

  destroyAll(): void {
    for (const socket of this.sockets.keys()) socket.destroy();
  }

  onUpgrade(req: IncomingMessage, socket: Socket): void {
    const activity = this.sockets.get(socket);
    if (activity === undefined) return;
    activity.upgraded = true;
    if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return;
    // The app writes its handshake answer straight to the socket; only a 101 makes it a WebSocket
    // (a 400 or 426 refusal does not). Watch the first write only, then step aside.
    const write = socket.write;
    socket.write = function firstWrite(this: Socket, ...args: unknown[]) {
      socket.write = write;
      if (isSwitchingProtocols(args[0])) activity.isWebSocket = true;
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as typeof socket.write;
  }
}
