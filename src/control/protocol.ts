// The control channel's messages: one JSON request per connection, answered by a stream of JSON
// lines that ends with `done`. Shared by the primary's control server and the CLI's client.
// Pure: parsing and validation only.

import { createHash } from 'node:crypto';

export type ControlRequest =
  | { cmd: 'reload' }
  | { cmd: 'scale'; workers: number }
  | { cmd: 'scale'; delta: number }
  | { cmd: 'status' }
  | { cmd: 'profile'; slot: number; seconds: number };

export type ControlReply =
  | { type: 'progress'; message: string }
  | { type: 'done'; ok: boolean; message: string; data?: unknown };

/** A request line longer than this is refused: nothing warden accepts comes close. */
export const MAX_REQUEST_BYTES = 64 * 1024;

export const COMMANDS = ['reload', 'scale', 'status', 'profile'] as const;

/** `warden profile --seconds`: long enough for a few hundred samples, short enough to stay a probe. */
export const PROFILE_SECONDS = { min: 0.1, max: 60 } as const;

/** Validates one request line; a string is the reason it was refused. */
export function parseControlRequest(line: string): ControlRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'malformed request: not JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'malformed request: expected a JSON object';
  const { cmd, workers, delta, slot, seconds } = value as Record<string, unknown>;
  switch (cmd) {
    case 'reload':
    case 'status':
      return { cmd };
    case 'scale':
      if (typeof workers === 'number' && Number.isInteger(workers) && delta === undefined) return { cmd, workers };
      if (typeof delta === 'number' && Number.isInteger(delta) && delta !== 0 && workers === undefined) return { cmd, delta };
      return 'malformed scale request: give "workers" (an integer) or "delta" (a non-zero integer)';
    case 'profile':
      if (typeof slot !== 'number' || !Number.isInteger(slot) || slot < 1) return 'malformed profile request: "slot" must be a worker slot (an integer from 1)';
      if (typeof seconds !== 'number' || !(seconds >= PROFILE_SECONDS.min && seconds <= PROFILE_SECONDS.max)) {
        return `malformed profile request: "seconds" must be a number from ${PROFILE_SECONDS.min} to ${PROFILE_SECONDS.max}`;
      }
      return { cmd, slot, seconds };
    default:
      return `unknown command ${JSON.stringify(cmd)}; known: ${COMMANDS.join(', ')}`;
  }
}

export function parseControlReply(line: string): ControlReply | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const reply = value as Record<string, unknown>;
  if (reply.type === 'progress' && typeof reply.message === 'string') return { type: 'progress', message: reply.message };
  if (reply.type === 'done' && typeof reply.ok === 'boolean' && typeof reply.message === 'string') {
    return { type: 'done', ok: reply.ok, message: reply.message, ...(reply.data === undefined ? {} : { data: reply.data }) };
  }
  return undefined;
}

/**
 * Where the control socket of the warden serving `port` lives when --control is not given: one file
 * per service port, so two wardens on one machine never share it, inside a per-user directory.
 */
/** `port` is the service port, or the --uds path (named by a short hash of it). */
export function defaultControlPath(port: number | string, env: Readonly<Record<string, string | undefined>>, uid: number, tmpdir: string): string {
  const base = env.XDG_RUNTIME_DIR !== undefined && env.XDG_RUNTIME_DIR !== '' ? env.XDG_RUNTIME_DIR : tmpdir;
  const name = typeof port === 'number' ? String(port) : `uds-${createHash('sha256').update(port).digest('hex').slice(0, 12)}`;
  return `${base.replace(/\/+$/, '')}/warden-${uid}/control-${name}.sock`;
}
