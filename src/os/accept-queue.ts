// The kernel's accept queue of a listening TCP socket, from /proc/net/tcp and /proc/net/tcp6 (no
// shell-out): for a socket in state LISTEN (0A), rx_queue is the number of connections that completed
// the handshake and wait for accept() (sk_ack_backlog). The limit (listen()'s backlog) is not in this
// file (only inet_diag, as `ss -l` uses, has it); the caller knows what it asked for. Outside Linux it
// answers null. Read-only; the parser is pure. Only the head of each file is read: the LISTEN lines
// come first, and the rest (one line per connection, TIME_WAIT included) can run to megabytes.

import { closeSync, openSync, readlinkSync, readSync } from 'node:fs';
import { errnoCode } from '../errors.js';

const TCP_LISTEN = '0A';

export interface ListenSocket {
  /** "127.0.0.1", "::", "::ffff:127.0.0.1". */
  address: string;
  port: number;
  /** Connections waiting for accept(). */
  queued: number;
  inode: number;
}

/** An address as /proc writes it: 32-bit words in host order (little-endian on x86 and arm64). */
function decodeAddress(hex: string): string | undefined {
  if (hex.length === 8) {
    const word = Number.parseInt(hex, 16);
    return [word & 0xff, (word >>> 8) & 0xff, (word >>> 16) & 0xff, word >>> 24].join('.');
  }
  if (hex.length !== 32) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 8) {
    const word = Number.parseInt(hex.slice(i, i + 8), 16);
    bytes.push(word & 0xff, (word >>> 8) & 0xff, (word >>> 16) & 0xff, word >>> 24);
  }
  if (bytes.slice(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return `::ffff:${bytes.slice(12).join('.')}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  // The longest run of zero groups becomes "::" (RFC 5952).
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.length && j - i > 1) best = { start: i, length: j - i };
    i = j;
  }
  if (best.start < 0) return groups.join(':');
  return `${groups.slice(0, best.start).join(':')}::${groups.slice(best.start + best.length).join(':')}`;
}

/** The LISTEN sockets in the text of /proc/net/tcp or /proc/net/tcp6; lines of another form are skipped. */
export function parseListenSockets(text: string): ListenSocket[] {
  const sockets: ListenSocket[] = [];
  for (const line of text.split('\n')) {
    // sl, local_address, rem_address, st, tx_queue:rx_queue, tr:tm->when, retrnsmt, uid, timeout, inode
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || !/^\d+:$/.test(fields[0] as string) || fields[3] !== TCP_LISTEN) continue;
    const [addressHex, portHex] = (fields[1] as string).split(':');
    const rxHex = (fields[4] as string).split(':')[1];
    const address = addressHex === undefined ? undefined : decodeAddress(addressHex);
    const port = Number.parseInt(portHex ?? '', 16);
    const queued = Number.parseInt(rxHex ?? '', 16);
    const inode = Number(fields[9]);
    if (address === undefined || !Number.isInteger(port) || !Number.isInteger(queued) || !Number.isInteger(inode)) continue;
    sockets.push({ address, port, queued, inode });
  }
  return sockets;
}

/**
 * The queue of the LISTEN sockets matching: by inode when known (the listener's own socket, which
 * every worker shares with --balance shared), else every LISTEN socket on the port. Several matches
 * (tcp and tcp6, SO_REUSEPORT) are summed; none is null.
 */
export function acceptQueueOf(sockets: readonly ListenSocket[], match: { port: number; inode?: number }): number | null {
  const mine = sockets.filter((socket) => (match.inode !== undefined ? socket.inode === match.inode : socket.port === match.port));
  if (mine.length === 0) return null;
  return mine.reduce((sum, socket) => sum + socket.queued, 0);
}

// The state field of a socket line: sl, local_address, rem_address, st.
const SOCKET_LINE_STATE = /[ \t]*\d+:[ \t]+[0-9A-Fa-f]+:[0-9A-Fa-f]+[ \t]+[0-9A-Fa-f]+:[0-9A-Fa-f]+[ \t]+([0-9A-Fa-f]{2})[ \t]/y;

/**
 * Where the LISTEN lines at the head of a /proc/net/tcp{,6} text end: the start of the first complete
 * socket line in another state, or undefined when the text holds none yet. The kernel walks its
 * listening hash before its established one (tcp_get_idx in net/ipv4/tcp_ipv4.c, shared by tcp6), so
 * that line ends the LISTEN sockets; the header and lines of another form are skipped.
 */
export function endOfListenLines(text: string): number | undefined {
  for (let start = 0; start < text.length;) {
    const newline = text.indexOf('\n', start);
    if (newline < 0) return undefined;
    SOCKET_LINE_STATE.lastIndex = start;
    const state = SOCKET_LINE_STATE.exec(text)?.[1];
    if (state !== undefined && SOCKET_LINE_STATE.lastIndex <= newline + 1 && state.toUpperCase() !== TCP_LISTEN) return start;
    start = newline + 1;
  }
  return undefined;
}

/** Fills `buffer` from where the last call stopped; 0 at the end. */
export type ReadChunk = (buffer: Buffer) => number;

/**
 * The LISTEN sockets of a /proc/net/tcp{,6} file read in chunks, stopping at the first line in another
 * state: what one read allocates follows the listening sockets, not the host's connection count
 * (11,000 lines, 1.7 MB of text, on a machine running load tests made every /workers answer allocate
 * about 11 MB).
 */
export function readListenSockets(readChunk: ReadChunk, chunkBytes = 16 * 1024): ListenSocket[] {
  const buffer = Buffer.allocUnsafe(chunkBytes);
  let text = '';
  for (;;) {
    const length = readChunk(buffer);
    // ASCII, so a chunk never ends inside a character.
    if (length > 0) text += buffer.toString('latin1', 0, length);
    const end = endOfListenLines(text);
    if (end !== undefined) return parseListenSockets(text.slice(0, end));
    if (length === 0) return parseListenSockets(text);
  }
}

function readProc(path: string): ListenSocket[] {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    // ENOENT: no /proc, or a kernel without IPv6.
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
  try {
    // Position null: read on from the file's offset, the order seq_file serves without restarting its walk.
    return readListenSockets((buffer) => readSync(fd, buffer, 0, buffer.length, null));
  } finally {
    closeSync(fd);
  }
}

/** The inode of the socket behind a file descriptor of this process (/proc/self/fd/N -> "socket:[123]"). */
export function socketInode(fd: number): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
    return match === null ? undefined : Number(match[1]);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'EBADF') return undefined;
    throw error;
  }
}

/** Connections waiting in the accept queue of a listening socket of this host; null outside Linux or when it is not found. */
export function readAcceptQueue(match: { port: number; inode?: number }): number | null {
  if (process.platform !== 'linux') return null;
  return acceptQueueOf([...readProc('/proc/net/tcp'), ...readProc('/proc/net/tcp6')], match);
}
