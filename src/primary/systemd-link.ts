// The primary's side of sd_notify: what systemd-notices.ts decides after each event is sent through
// os/sd-notify.ts, and WATCHDOG=1 is sent from the primary's own event loop, so a primary that hangs
// stops pinging and systemd restarts it. Acting, and thin: it holds the notifier and the memory of
// what was said. Nothing happens when systemd did not start warden (no NOTIFY_SOCKET).

import type { Clock } from '../clock.js';
import { LOG_EVENTS } from '../log/events.js';
import type { Logger } from '../log/logger.js';
import { notifySetup, type SdNotifier } from '../os/sd-notify.js';
import { NO_NOTICES, notices, type NoticeFacts, type NoticeMemory } from './systemd-notices.js';

export class SystemdLink {
  private readonly notifier: SdNotifier | undefined;
  private memory: NoticeMemory = NO_NOTICES;
  private readonly watchdog: { cancel(): void } | undefined;

  /** systemd sets NOTIFY_SOCKET (Type=notify) and WATCHDOG_USEC (WatchdogSec=) for the main process. */
  constructor(clock: Clock, log: Logger) {
    const setup = notifySetup(process.env, process.pid, (error) => log.log('warn', LOG_EVENTS.systemdNotifyFailed, error.message, {}));
    if (setup.problem !== undefined) log.log('warn', LOG_EVENTS.systemdNotifyFailed, setup.problem, {});
    this.notifier = setup.notifier;
    const notifier = this.notifier;
    if (notifier !== undefined && setup.watchdogIntervalMs !== undefined) {
      this.watchdog = clock.setInterval(() => notifier.send(['WATCHDOG=1']), setup.watchdogIntervalMs);
    }
  }

  get isActive(): boolean {
    return this.notifier !== undefined;
  }

  /** After each batch of events: send what changed (READY, RELOADING, STOPPING, STATUS). */
  update(facts: NoticeFacts): void {
    if (this.notifier === undefined) return;
    const result = notices(this.memory, facts);
    this.memory = result.memory;
    for (const message of result.messages) this.notifier.send(message);
  }

  /** Stop the watchdog and wait (at most 2 s) for the last messages to be sent. */
  async close(): Promise<void> {
    this.watchdog?.cancel();
    if (this.notifier !== undefined) await Promise.race([this.notifier.flushed(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  }
}
