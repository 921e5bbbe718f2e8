// `--uds PATH`: claiming the socket file. A file left by a dead run (nothing accepts on it) is
// replaced; a live one (a connect succeeds) is never taken; anything that is not a socket is left
// alone. The verdict is pure; the probe and the file operations around it act.
//
// The socket is bound under a temporary name next to PATH, given its mode, then renamed onto PATH:
// the replacement of a stale file is atomic, and libuv, which unlinks the name a listening pipe was
// bound to when that handle closes, only ever removes the temporary name. That matters with
// `--balance shared`, where the primary closes the handle it bound while the workers keep accepting
// from their copies: PATH must stay. warden removes PATH itself on exit, if it is still its socket.

import { chmodSync, lstatSync, renameSync, rmSync, type Stats } from 'node:fs';
import { connect, type Server } from 'node:net';
import { WardenError, errnoCode } from '../../errors.js';

export type PathProbe =
  | { exists: false }
  | { exists: true; isSocket: false }
  | { exists: true; isSocket: true; connect: 'accepted' | 'refused' | 'timed-out' | { error: string } };

export type PathVerdict = { action: 'bind' } | { action: 'replace' } | { action: 'refuse'; reason: string; hint: string };

/** Pure: what to do with the file at `path` before binding a socket there. */
export function socketPathVerdict(path: string, probe: PathProbe): PathVerdict {
  if (!probe.exists) return { action: 'bind' };
  if (!probe.isSocket) return { action: 'refuse', reason: `${path} exists and is not a socket`, hint: 'remove it or choose another --uds path' };
  if (probe.connect === 'refused') return { action: 'replace' };
  if (probe.connect === 'accepted' || probe.connect === 'timed-out') {
    return { action: 'refuse', reason: `another process is serving on ${path}`, hint: 'stop it first, or choose another --uds path' };
  }
  return { action: 'refuse', reason: `cannot tell whether ${path} is in use: ${probe.connect.error}`, hint: 'check its owner and permissions, or choose another --uds path' };
}

async function probePath(path: string): Promise<PathProbe> {
  let stats: Stats;
  try {
    stats = lstatSync(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return { exists: false };
    throw error;
  }
  if (!stats.isSocket()) return { exists: true, isSocket: false };
  const outcome = await new Promise<'accepted' | 'refused' | 'timed-out' | { error: string }>((resolve) => {
    const socket = connect({ path });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('timed-out');
    }, 1000);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      // ECONNREFUSED: a socket file nobody listens on, what a killed run leaves behind.
      resolve(errnoCode(error) === 'ECONNREFUSED' ? 'refused' : { error: errnoCode(error) ?? error.message });
    });
  });
  return { exists: true, isSocket: true, connect: outcome };
}

export interface BoundSocket {
  path: string;
  /** Whether a stale file was replaced (for the startup log). */
  replacedStale: boolean;
  /** Remove `path` if it is still the socket bound here (not one a later run put there). */
  remove(): void;
}

/** Bind `server` on the unix socket `path` with file mode `mode`; errors name the path and the fix. */
export async function listenUnix(server: Server, path: string, mode: number, what: string): Promise<BoundSocket> {
  const verdict = socketPathVerdict(path, await probePath(path));
  if (verdict.action === 'refuse') throw new WardenError('WARDEN_LISTEN', `cannot listen on ${path} for the ${what}: ${verdict.reason}`, { hint: verdict.hint });
  const temporary = `${path}.${process.pid.toString(36)}`;
  rmSync(temporary, { force: true });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => {
      const code = errnoCode(error);
      const hint = code === 'EACCES' ? `this user may not create files in the directory of ${path}` : code === 'ENOENT' ? `the directory of ${path} does not exist` : undefined;
      reject(new WardenError('WARDEN_LISTEN', `cannot listen on ${path} for the ${what}: ${code ?? error.message}`, { hint, cause: error }));
    };
    server.once('error', onError);
    server.listen({ path: temporary, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  chmodSync(temporary, mode);
  renameSync(temporary, path);
  const inode = lstatSync(path).ino;
  return {
    path,
    replacedStale: verdict.action === 'replace',
    remove() {
      try {
        if (lstatSync(path).ino === inode) rmSync(path);
      } catch (error) {
        // ENOENT: someone removed it already; nothing to clean.
        if (errnoCode(error) !== 'ENOENT') throw error;
      }
    },
  };
}
