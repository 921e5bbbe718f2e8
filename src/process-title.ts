// Process titles, so `ps`, `top` and `pgrep -f 'warden: worker'` tell the primary and each worker
// apart: `warden: primary app.js :8000`, `warden: worker 2 app.js` (`g3` added once reloads made a
// third generation). Pure: the callers set process.title.

import { basename } from 'node:path';

/**
 * Linux keeps a process title in the memory of its original argv, so a title longer than the
 * command line it replaces is cut; the app is named by its file name only, at most 32 characters.
 */
const MAX_APP_CHARS = 32;

function appName(module: string): string {
  const name = basename(module).replace(/:[A-Za-z_$][\w$]*$/, '');
  return name.length > MAX_APP_CHARS ? `${name.slice(0, MAX_APP_CHARS - 1)}…` : name;
}

/** `port` is the service port, or the --uds path. */
export function primaryTitle(module: string, port: number | string): string {
  return `warden: primary ${appName(module)} ${typeof port === 'string' ? port : `:${port}`}`;
}

export function workerTitle(slot: number, generation: number, module: string): string {
  return `warden: worker ${slot}${generation > 1 ? ` g${generation}` : ''} ${appName(module)}`;
}
