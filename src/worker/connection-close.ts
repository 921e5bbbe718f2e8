// How a draining worker closes its connections: when a keep-alive connection counts as quiet, and how
// an upgraded (WebSocket) one is told to go away before --graceful-timeout. Constants and pure helpers
// for connections.ts and main.ts.

/**
 * On drain, a connection with no request on it is closed once it has also been quiet this long. A
 * keep-alive client may be sending its next request at the very moment the connection looks idle;
 * closing it then loses that request (the client reads a reset, or its write fails with EPIPE), so a
 * connection that read bytes recently is left to answer one more request with `Connection: close`.
 * A busy client whose process is descheduled for a few hundred milliseconds (a loaded machine, a GC
 * pause) looks idle for that long: at 100 ms such clients lost a request now and then during reloads
 * on a loaded 2-core machine. One second costs a draining worker at most that much longer to exit
 * (the replacement is serving already).
 */
export const DRAIN_IDLE_MS = 1000;

export interface SocketActivity {
  bytesRead: number;
  lastActiveAt: number;
  /**
   * closeIdle() calls in a row that found nothing new read. Timers run before I/O in each turn of
   * the event loop, so after a stall (a busy CPU) the first check can come before the read of bytes
   * that already arrived; two checks always have an I/O phase between them.
   */
  quietChecks: number;
  /** Taken over by an upgrade (WebSocket): not HTTP any more, left open until it closes. */
  upgraded: boolean;
  /** The upgrade asked for `websocket` and the app answered `101`: warden may write a close frame. */
  isWebSocket: boolean;
}

/**
 * A WebSocket close frame as a server sends it (unmasked, RFC 6455 section 5.5.1): FIN + opcode 8,
 * payload length 2, status code 1001 "going away" in network byte order.
 */
export const CLOSE_FRAME_GOING_AWAY = Buffer.from([0x88, 0x02, 0x03, 0xe9]);

/** After the close frame, how long the client gets to close its side before the socket is destroyed. */
export const UPGRADED_CLOSE_WAIT_MS = 500;

/**
 * When a draining worker closes its upgraded connections: at --graceful-timeout, less a margin so the
 * close frames go out (and the worker exits) before the primary's kill at that same deadline.
 */
export function upgradedCloseDelayMs(gracefulTimeoutMs: number): number {
  return Math.max(0, gracefulTimeoutMs - Math.min(1000, Math.round(gracefulTimeoutMs / 5)));
}

/** Is this the first chunk of a `101 Switching Protocols` response? */
export function isSwitchingProtocols(chunk: unknown): boolean {
  const head = typeof chunk === 'string' ? chunk.slice(0, 13) : Buffer.isBuffer(chunk) || chunk instanceof Uint8Array ? Buffer.from(chunk.subarray(0, 13)).toString('latin1') : '';
  return /^HTTP\/1\.[01] 101\b/.test(head);
}
