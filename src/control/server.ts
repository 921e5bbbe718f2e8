// The primary's control socket: a unix socket (mode 0600, in a directory only the owning user can
// enter) that takes `reload`, `scale` and `status` and streams the outcome back. State-changing
// commands live only here, never on the admin HTTP port. A stale socket file from a dead run is
// replaced; a live one is never taken over.

import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { WardenError, errnoCode } from '../errors.js';
import { MAX_REQUEST_BYTES, parseControlRequest, type ControlReply, type ControlRequest } from './protocol.js';

/** Carries out one request; `reply` may be called with progress any number of times before done. */
export type ControlHandler = (request: ControlRequest, progress: (message: string) => void) => Promise<{ ok: boolean; message: string; data?: unknown }>;

/** A client that sends no complete request within this time is disconnected. */
const REQUEST_TIMEOUT_MS = 5000;

export class ControlServer {
  private server: Server | undefined;
  private closed: Promise<void> | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly handler: ControlHandler) {}

  async listen(path: string): Promise<void> {
    preparePrivateDirectory(dirname(path));
    await removeIfStale(path);
    const server = createServer((socket) => this.onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => {
        reject(new WardenError('WARDEN_LISTEN', `cannot create the control socket ${path}: ${(error as Error).message}`, {
          hint: 'choose another path with --control PATH (or WARDEN_CONTROL)',
        }));
      });
      server.listen(path, () => resolve());
    });
    // The directory is already private; the mode on the socket itself is the second lock.
    chmodSync(path, 0o600);
    server.unref();
    this.server = server;
  }

  /**
   * Take no new connections and remove the socket file; requests already open keep their answers.
   * Called when the service port closes: the default socket is named after the port, and once the
   * port is free the kernel may give it to a new warden, which must find the name free too.
   */
  stopListening(): void {
    if (this.server === undefined || this.closed !== undefined) return;
    const server = this.server;
    this.closed = new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.stopListening();
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await this.closed;
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => {
      write(socket, { type: 'done', ok: false, message: `no request within ${REQUEST_TIMEOUT_MS / 1000}s` });
      socket.end();
    });
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const newline = buffered.indexOf('\n');
      if (newline === -1) {
        if (Buffer.byteLength(buffered) > MAX_REQUEST_BYTES) {
          socket.off('data', onData);
          write(socket, { type: 'done', ok: false, message: `request longer than ${MAX_REQUEST_BYTES} bytes` });
          socket.end();
        }
        return;
      }
      socket.off('data', onData);
      socket.setTimeout(0);
      void this.answer(socket, buffered.slice(0, newline));
    };
    socket.on('data', onData);
  }

  private async answer(socket: Socket, line: string): Promise<void> {
    const request = parseControlRequest(line);
    if (typeof request === 'string') {
      write(socket, { type: 'done', ok: false, message: request });
      socket.end();
      return;
    }
    try {
      const result = await this.handler(request, (message) => write(socket, { type: 'progress', message }));
      write(socket, { type: 'done', ...result });
    } catch (error) {
      write(socket, { type: 'done', ok: false, message: `internal error: ${(error as Error).message}` });
    }
    socket.end();
  }
}

function write(socket: Socket, reply: ControlReply): void {
  if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(reply)}\n`);
}

/** Create the socket's directory (mode 0700), or check that an existing one is this user's alone. */
function preparePrivateDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory()) {
    throw new WardenError('WARDEN_LISTEN', `cannot create the control socket: ${dir} is not a directory`, { hint: 'choose another path with --control PATH' });
  }
  if (uid !== undefined && stat.uid !== uid) {
    throw new WardenError('WARDEN_LISTEN', `the control directory ${dir} belongs to another user (uid ${stat.uid})`, { hint: 'choose another path with --control PATH' });
  }
  if ((stat.mode & 0o077) !== 0) {
    throw new WardenError('WARDEN_LISTEN', `the control directory ${dir} can be entered by other users (mode ${(stat.mode & 0o777).toString(8)})`, {
      hint: `run \`chmod 700 ${dir}\`, or choose another path with --control PATH`,
    });
  }
}

/** A socket file nobody answers on is left from a dead run: remove it. A live one is another warden. */
async function removeIfStale(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return;
    throw error;
  }
  if (!isSocket) {
    throw new WardenError('WARDEN_LISTEN', `cannot create the control socket: ${path} exists and is not a socket`, { hint: 'remove it, or choose another path with --control PATH' });
  }
  const answered = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (error) => {
      // ECONNREFUSED: nobody listens any more. Any other error: treat as taken, never steal.
      resolve(errnoCode(error) !== 'ECONNREFUSED');
    });
  });
  if (answered) {
    throw new WardenError('WARDEN_LISTEN', `another warden is already running with the control socket ${path}`, {
      hint: 'stop it first, or give this one its own socket with --control PATH (or its own --port)',
    });
  }
  unlinkSync(path);
}
