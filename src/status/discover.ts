// Where `warden status` finds the running primary. Today: the admin URL (--admin, default
// http://127.0.0.1:9000). The control socket of the lifecycle commands is the next place to look;
// it belongs here, in this one function, so every reader of the primary finds it the same way.

import { WardenError } from '../errors.js';
import { httpGet } from '../check/http-get.js';

export interface PrimaryLocation {
  adminUrl: URL;
}

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9000';

export async function findPrimary(options: { admin?: string | undefined; timeoutMs: number }): Promise<PrimaryLocation> {
  const raw = options.admin ?? DEFAULT_ADMIN_URL;
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
    hint: 'start one with `warden serve app.js`, or point at its admin server with `--admin http://HOST:PORT` (see --admin-port)',
  });
}
