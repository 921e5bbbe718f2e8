// Builds the shell's parts and wires them to each other: the listener, the prober, the evidence
// collector, the fleet (with --workers auto's re-fit to the first measured RSS, and the memory cap of
// --workers MIN..MAX from it) and the admin server
// with the source its routes read. It builds and connects; it starts nothing (the supervisor does).

import type { Clock } from '../clock.js';
import { EvidenceCollector } from '../diagnose/evidence.js';
import { LOG_EVENTS } from '../log/events.js';
import type { Logger } from '../log/logger.js';
import { readAcceptQueue } from '../os/accept-queue.js';
import { serializeError } from '../protocol/messages.js';
import { AdminServer } from './admin/admin-server.js';
import type { PrimaryInfo } from './admin/report.js';
import { adminRoutes, type AdminSource } from './admin/routes.js';
import { Timeline } from './admin/timeline.js';
import { Fleet } from './fleet.js';
import type { MachineEvent, MachineState } from './machine/index.js';
import { MemoryFit } from './memory-fit.js';
import { Listener } from './net/listener.js';
import { Prober } from './net/probes.js';
import { CAPTURE_TIMEOUT_MS, PROFILE_BEFORE_KILL_MS, type SupervisorSettings } from './settings.js';

/** What the parts read from the supervisor, always the current value. */
export interface PartsHooks {
  state(): MachineState;
  dispatch(event: MachineEvent): void;
  /** The primary's addresses and facts, once its ports are bound. */
  info(): PrimaryInfo | undefined;
  controlPath(): string | undefined;
  requiredReady(): number;
}

export interface Parts {
  listener: Listener;
  prober: Prober;
  evidence: EvidenceCollector;
  fleet: Fleet;
  timeline: Timeline;
  adminSource: AdminSource;
  admin: AdminServer;
  /** --workers MIN..MAX: what the next LoadSampled carries (the accept queue; the memory limit's workers once measured). */
  sampleLoad(): { acceptQueue: number | null; memoryAllows?: number };
}

export function buildParts(settings: SupervisorSettings, clock: Clock, log: Logger, hooks: PartsHooks): Parts {
  const options = settings.options;
  const listener = new Listener({
    holdLimit: 4096, holdTimeoutMs: options.bootTimeoutMs, slowAckMs: 200, acceptWindowMs: 500, reclaimAfterMs: 1000, balance: options.balance, sticky: options.sticky, backlog: options.backlog,
  });
  const prober = new Prober((workerId, socket) => listener.handTo(workerId, socket), settings.tls !== undefined);
  const evidence = new EvidenceCollector(
    { captureTimeoutMs: CAPTURE_TIMEOUT_MS, profileMs: PROFILE_BEFORE_KILL_MS, profileDir: options.profileDir, profileDirMaxBytes: options.profileDirMaxBytes, maxMemoryBytes: options.maxMemoryBytes, heapSnapshotDir: options.heapSnapshotDir, gracefulTimeoutMs: options.gracefulTimeoutMs },
    { clock, log, identify: (id) => hooks.state().workers.find((worker) => worker.id === id), send: (id, message) => fleet.send(id, message) },
  );
  const memoryFit = new MemoryFit(settings.memorySizing, log);
  // --workers MIN..MAX under a memory limit: the workers it holds with the first measured worker RSS.
  let memoryAllows: number | undefined;
  const fleet: Fleet = new Fleet({
    clock, log, listener, evidence, prober, state: hooks.state, dispatch: hooks.dispatch,
    onRss: (id, rssBytes) => {
      memoryAllows ??= memoryFit.rangeAllows(fleet.record(id), rssBytes, settings.autoscale?.sizing);
      const workers = memoryFit.onRss(fleet.record(id), rssBytes, hooks.state().targetWorkers);
      if (workers !== undefined) hooks.dispatch({ type: 'ScaleRequested', requestId: 0, source: '--workers auto (memory)', workers });
    },
  });
  const timeline = new Timeline();
  const adminSource: AdminSource = {
    state: hooks.state, now: () => clock.now(), requiredReady: hooks.requiredReady,
    info: () => ({ ...(hooks.info() as PrimaryInfo), requiredReady: hooks.requiredReady(), control: hooks.controlPath() ?? null }),
    pendingHandoffs: (id) => listener.pendingCount(id), inspectPort: (id) => evidence.inspectPort(id),
    connections: listener.stats, incidents: evidence.incidents, timeline, log, appMetrics: () => fleet.appMetrics(),
    acceptQueue: () => acceptQueue(listener, hooks.info()), backlog: options.backlog,
  };
  const admin = new AdminServer(adminRoutes(adminSource),
    (path, error) => log.log('error', LOG_EVENTS.adminError, `admin ${path} failed: ${String(error)}`, { path, error: serializeError(error) }));
  const sampleLoad = () => ({ acceptQueue: acceptQueue(listener, hooks.info()), ...(memoryAllows === undefined ? {} : { memoryAllows }) });
  return { listener, prober, evidence, fleet, timeline, adminSource, admin, sampleLoad };
}

/** The service socket's accept queue (Linux /proc/net/tcp), null for a unix socket or off Linux. */
function acceptQueue(listener: Listener, info: PrimaryInfo | undefined): number | null {
  const listen = info?.listen;
  if (listen === undefined || listen.path !== undefined) return null;
  return readAcceptQueue({ port: listen.port, ...(listener.listenerInode === undefined ? {} : { inode: listener.listenerInode }) });
}
