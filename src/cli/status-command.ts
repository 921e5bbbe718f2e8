// commander wiring for `warden status`: find the primary (status/discover.ts), read /workers twice
// (req/s is the difference), print the table or --json; --watch redraws in place on a terminal.

import { Command, Option } from 'commander';
import { WardenError } from '../errors.js';
import { httpGet } from '../net/http-get.js';
import { findPrimary } from '../status/discover.js';
import { controlPathFor } from './control-command.js';
import { formatStatus, statusRows, useColour, type StatusSample } from '../status/table.js';

const TIMEOUT_MS = 2000;

async function sample(adminUrl: URL): Promise<StatusSample> {
  const url = new URL('/workers', adminUrl);
  const outcome = await httpGet(url, { timeoutMs: TIMEOUT_MS, signal: new AbortController().signal, maxBodyBytes: 16 * 1024 * 1024 });
  if (outcome.kind !== 'response') {
    throw new WardenError('WARDEN_CHECK', `the warden primary at ${adminUrl.origin} stopped answering (${outcome.kind === 'error' ? outcome.code : outcome.kind})`);
  }
  let body: unknown;
  try {
    body = JSON.parse(outcome.body);
  } catch {
    throw new WardenError('WARDEN_CHECK', `${url.href} did not answer JSON (status ${outcome.status}); is this a warden admin port?`);
  }
  const ok = typeof body === 'object' && body !== null && Array.isArray((body as { workers?: unknown }).workers) && typeof (body as { primary?: unknown }).primary === 'object';
  if (!ok) throw new WardenError('WARDEN_CHECK', `${url.href} is not a warden /workers answer; is this a warden admin port?`);
  return { at: performance.now(), body: body as StatusSample['body'] };
}

interface StatusFlags {
  admin?: string;
  control?: string;
  port?: string;
  uds?: string;
  json?: boolean;
  watch?: boolean;
  interval: string;
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('one line per worker of a running warden: state, uptime, req/s, in flight, loop delay, RSS, restarts, last exit and incident')
    .addOption(new Option('--admin <url>', "the primary's admin URL (default: asked of its control socket, else http://127.0.0.1:9000)"))
    .addOption(new Option('--control <path>', 'control socket of the warden to show [env: WARDEN_CONTROL]'))
    .addOption(new Option('--port <port>', 'service port of the warden to show, when --control is not given [env: PORT]'))
    .addOption(new Option('--uds <path>', 'unix socket the warden to show serves on (its --uds), when --control is not given [env: WARDEN_UDS]'))
    .addOption(new Option('--json', 'print JSON for scripts'))
    .addOption(new Option('--watch', 'refresh in place until Ctrl-C'))
    .addOption(new Option('--interval <s>', 'seconds between refreshes with --watch').default('1'))
    .exitOverride()
    .action(async (flags: StatusFlags) => {
      const intervalMs = Number(flags.interval) * 1000;
      if (!Number.isFinite(intervalMs) || intervalMs < 100) throw new WardenError('WARDEN_USAGE', `--interval must be a number of seconds, at least 0.1 (got "${flags.interval}")`);
      const { adminUrl } = await findPrimary({ admin: flags.admin, control: controlPathFor(flags, process.env), timeoutMs: TIMEOUT_MS });
      const colour = useColour(process.stdout.isTTY === true, process.env);
      const print = (current: StatusSample, previous: StatusSample | undefined) => {
        const rows = statusRows(current, previous);
        if (flags.json) return `${JSON.stringify({ primary: current.body.primary, workers: rows }, null, 2)}\n`;
        return formatStatus(current, rows, { colour, width: process.stdout.columns ?? 160 });
      };
      let previous = await sample(adminUrl);
      if (!flags.watch) {
        // req/s needs two readings; half a second apart keeps the command quick.
        await new Promise((resolve) => setTimeout(resolve, 500));
        process.stdout.write(print(await sample(adminUrl), previous));
        return;
      }
      const inPlace = process.stdout.isTTY === true;
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
        const current = await sample(adminUrl);
        // On a terminal: home the cursor and clear below, so the table redraws in place.
        process.stdout.write(`${inPlace ? '\x1b[H\x1b[J' : ''}${print(current, previous)}${inPlace ? '' : '\n'}`);
        previous = current;
      }
    });
}
