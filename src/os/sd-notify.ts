// sd_notify(3) without a native addon. The protocol is a datagram on the unix socket named by
// $NOTIFY_SOCKET, and Node has no unix datagram socket (node:dgram is UDP only, node:net is stream
// only), so each message is sent by running systemd's own `systemd-notify` with the assignments as
// arguments. Trade-offs: a process spawn per message (a few ms; the primary sends a handful plus one
// watchdog ping every WatchdogSec/2), and the sender is not the main PID, so the unit needs
// NotifyAccess=all (`warden systemd` writes it). systemd-notify waits for systemd to have processed
// each message (its barrier), and messages are sent one at a time, so they arrive in order.

import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { errnoCode } from '../errors.js';

/** The names warden looks for in LISTEN_FDNAMES (FileDescriptorName= in a .socket unit). */
export const FD_NAMES = { service: 'service', admin: 'admin' } as const;

/** The variables systemd sets for the service's main process; workers must not inherit them. */
export const SYSTEMD_ENV = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'] as const;

export function withoutSystemdEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  for (const name of SYSTEMD_ENV) delete copy[name];
  return copy;
}

/** A command on PATH, or undefined. */
export function findOnPath(name: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT' && errnoCode(error) !== 'EACCES' && errnoCode(error) !== 'ENOTDIR') throw error;
    }
  }
  return undefined;
}

export interface NotifySetup {
  /** Undefined when systemd asked for no notifications (no $NOTIFY_SOCKET) or cannot be told. */
  notifier: SdNotifier | undefined;
  /** WATCHDOG=1 every this many ms (half of WatchdogSec), when systemd watches this process. */
  watchdogIntervalMs: number | undefined;
  /** Why systemd asked but cannot be told, for a warning. */
  problem: string | undefined;
}

/** What $NOTIFY_SOCKET and $WATCHDOG_USEC ask of this process. Pure apart from the PATH lookup. */
export function notifySetup(env: Readonly<Record<string, string | undefined>>, pid: number, onError: (error: Error) => void): NotifySetup {
  const socket = env.NOTIFY_SOCKET;
  if (socket === undefined || socket === '') return { notifier: undefined, watchdogIntervalMs: undefined, problem: undefined };
  const command = findOnPath('systemd-notify', env.PATH);
  if (command === undefined) {
    return {
      notifier: undefined, watchdogIntervalMs: undefined,
      problem: 'NOTIFY_SOCKET is set but systemd-notify is not on PATH: systemd will not learn that warden is ready (a Type=notify unit times out); install systemd\'s tools or use Type=exec',
    };
  }
  const usec = Number(env.WATCHDOG_USEC);
  // WATCHDOG_PID names the process systemd watches; another one (a parent that kept it) is not us.
  const watched = env.WATCHDOG_PID === undefined || env.WATCHDOG_PID === '' || Number(env.WATCHDOG_PID) === pid;
  const watchdogIntervalMs = watched && Number.isFinite(usec) && usec > 0 ? Math.max(1, Math.floor(usec / 2000)) : undefined;
  return { notifier: new SdNotifier(command, socket, onError), watchdogIntervalMs, problem: undefined };
}

/** Sends notify messages one at a time, in order; a pending watchdog ping is not queued twice. */
export class SdNotifier {
  private readonly queue: string[][] = [];
  private sending = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly command: string,
    private readonly socket: string,
    private readonly onError: (error: Error) => void,
  ) {}

  /** Assignments such as ["READY=1", "STATUS=2 of 2 workers in rotation"]. */
  send(assignments: readonly string[]): void {
    if (assignments.length === 0) return;
    if (assignments.length === 1 && assignments[0] === 'WATCHDOG=1' && this.queue.some((queued) => queued.length === 1 && queued[0] === 'WATCHDOG=1')) return;
    this.queue.push([...assignments]);
    this.next();
  }

  /** Resolves once every queued message has been sent (or failed). */
  flushed(): Promise<void> {
    if (!this.sending && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private next(): void {
    if (this.sending) return;
    const assignments = this.queue.shift();
    if (assignments === undefined) {
      for (const resolve of this.idle.splice(0)) resolve();
      return;
    }
    this.sending = true;
    // "--" keeps a STATUS= text that starts with "-" from being read as an option.
    execFile(this.command, ['--', ...assignments], { env: { NOTIFY_SOCKET: this.socket }, timeout: 10_000 }, (error, _stdout, stderr) => {
      this.sending = false;
      if (error !== null) this.onError(new Error(`systemd-notify ${assignments.join(' ')} failed: ${stderr.trim() || error.message}`));
      this.next();
    });
  }
}
