// Where `warden status` finds the running primary: the admin URL given with --admin; otherwise the
// primary answering on the control socket (--control, WARDEN_CONTROL, or the one for --port) tells
// its admin address; otherwise the default admin URL http://127.0.0.1:9000.

import { sendControl } from '../control/client.js';
import { WardenError, isWardenError } from '../errors.js';
import { httpGet } from '../net/http-get.js';

export interface PrimaryLocation {
  adminUrl: URL;
}

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9000';

/** The admin URL a primary reports over its control socket, or undefined when nobody answers there. */
async function adminFromControl(path: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const done = await sendControl(path, { cmd: 'status' }, () => undefined, timeoutMs);
    const admin = (done.data as { primary?: { admin?: { host?: unknown; port?: unknown } } } | undefined)?.primary?.admin;
    if (typeof admin?.host !== 'string' || typeof admin.port !== 'number') return undefined;
    // An admin bound to every address is reached on loopback from here.
    const host = admin.host === '0.0.0.0' || admin.host === '::' ? '127.0.0.1' : admin.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${admin.port}`;
  } catch (error) {
    if (isWardenError(error) && error.code === 'WARDEN_CONTROL') return undefined;
    throw error;
  }
}

export async function findPrimary(options: { admin?: string | undefined; control?: string; timeoutMs: number }): Promise<PrimaryLocation> {
  const fromControl = options.admin === undefined && options.control !== undefined ? await adminFromControl(options.control, options.timeoutMs) : undefined;
  const raw = options.admin ?? fromControl ?? DEFAULT_ADMIN_URL;
  let adminUrl: URL;
  try {
    adminUrl = new URL(raw);
  } catch {
    throw new WardenError('WARDEN_USAGE', `--admin must be a URL such as ${DEFAULT_ADMIN_URL} (got "${raw}")`);
  }
  const outcome = await httpGet(new URL('/livez', adminUrl), { timeoutMs: options.timeoutMs, signal: new AbortController().signal, maxBodyBytes: 4096 });
  if (outcome.kind === 'response') return { adminUrl };
  const why = outcome.kind === 'error' ? outcome.code : outcome.kind === 'timeout' ? `no answer within ${options.timeoutMs} ms` : 'aborted';
  throw new WardenError('WARDEN_CHECK', `no warden primary answers at ${adminUrl.origin} (${why})`, {
    hint: `start one with \`warden serve app.js\`, or point at it with \`--port N\` (its service port), \`--control PATH\` or \`--admin http://HOST:PORT\`${options.control === undefined ? '' : ` (no warden answered on ${options.control} either)`}`,
  });
}
