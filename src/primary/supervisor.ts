// The thin shell around the machine: one event queue, drained in order; each event goes through
// step(), and the effects it returns are carried out here, their results coming back as new events.
// Per-worker state lives in fleet.ts, connections in net/, what the admin port answers in admin/.

import { tmpdir } from 'node:os';
import { dirname, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../clock.js';
import { defaultControlPath, type ControlRequest } from '../control/protocol.js';
import { ControlServer } from '../control/server.js';
import { requiredReady } from '../config/resolve.js';
import type { PrimaryInfo } from './admin/report.js';
import type { Logger } from '../log/logger.js';
import { LOG_EVENTS } from '../log/events.js';
import { domainEvent, type DomainObserver } from '../protocol/events.js';
import { serializeError } from '../protocol/messages.js';
import { EvidenceCollector } from '../diagnose/evidence.js';
import { freeInspectPort } from '../diagnose/stack-capture.js';
import { formatTopFunctions } from '../diagnose/cpu-profile.js';
import { AdminServer, isLoopbackHost } from './admin/admin-server.js';
import { adminRoutes, workersBody, type AdminSource } from './admin/routes.js';
import { Timeline } from './admin/timeline.js';
import { Fleet, type SpawnBase } from './fleet.js';
import { initialState, rotationOf, step, type Effect, type HaltInfo, type MachineEvent, type MachineState } from './machine/index.js';
import { MemoryFit } from './memory-fit.js';
import { Listener } from './net/listener.js';
import { Prober } from './net/probes.js';
import { probeParentDeathLauncher, signalProcess } from './processes.js';
import { PendingRequests, type LifecycleOutcome } from './requests.js';
import { CAPTURE_TIMEOUT_MS, machineConfig, PROFILE_BEFORE_KILL_MS, workerConfig, type SupervisorSettings } from './settings.js';
import { watchSources, type SourceWatch } from './source-watch.js';
import { withoutSystemdEnv } from '../os/sd-notify.js';
import { readAcceptQueue } from '../os/accept-queue.js';
import { SystemdLink } from './systemd-link.js';
import { inheritedSockets } from './socket-activation.js';
import { readyz } from './admin/report.js';
import type { AddressInfo } from 'node:net';

export { HEARTBEAT_INTERVAL_MS, machineConfig, type SupervisorSettings } from './settings.js';
export type { TimelineEntry } from './admin/timeline.js';
export type { LifecycleOutcome } from './requests.js';

const TICK_MS = 50;
const WORKER_ENTRY = fileURLToPath(new URL('../worker/main.js', import.meta.url));

/** Called with every log event the machine emits, after it is logged: the programmatic API's events. */
export type SupervisorObserver = DomainObserver;

export interface RunResult {
  code: number;
  halt: HaltInfo | undefined;
}

export interface Started {
  /** With --uds: host '' and port 0, and the socket's path. */
  listen: { host: string; port: number; path?: string };
  admin: { host: string; port: number };
  control: string;
  /** Resolves when the supervisor has stopped every worker and wants the process to exit. */
  done: Promise<RunResult>;
}

export class Supervisor {
  private state: MachineState;
  private readonly queue: MachineEvent[] = [];
  private isProcessing = false;
  private readonly listener: Listener;
  /** Set when the listener starts closing: it first takes the connections still queued in the kernel. */
  private listenerClosed: Promise<void> | undefined;
  private readonly prober: Prober;
  private readonly evidence: EvidenceCollector;
  private readonly fleet: Fleet;
  private readonly admin: AdminServer;
  private readonly adminSource: AdminSource;
  private readonly timeline = new Timeline();
  private readonly control: ControlServer;
  private readonly memoryFit: MemoryFit;
  private readonly timers: { cancel(): void }[] = [];
  private info: PrimaryInfo | undefined;
  private controlPath: string | undefined;
  private spawnBase: SpawnBase | undefined;
  /** sd_notify, when systemd started warden with $NOTIFY_SOCKET (os/sd-notify.ts). */
  private systemd: SystemdLink | undefined;
  private sourceWatch: SourceWatch | undefined;
  private finish: ((result: RunResult) => void) | undefined;
  private readonly requests = new PendingRequests();

  constructor(private readonly settings: SupervisorSettings, private readonly clock: Clock, private readonly log: Logger, private readonly observe?: SupervisorObserver) {
    const options = settings.options;
    this.state = initialState(machineConfig(options, settings.moduleLabel, settings.appArgs), clock.now());
    this.listener = new Listener({
      holdLimit: 4096, holdTimeoutMs: options.bootTimeoutMs, slowAckMs: 200, acceptWindowMs: 500, reclaimAfterMs: 1000, balance: options.balance, sticky: options.sticky, backlog: options.backlog,
    });
    this.prober = new Prober((workerId, socket) => this.listener.handTo(workerId, socket), settings.tls !== undefined);
    this.evidence = new EvidenceCollector(
      { captureTimeoutMs: CAPTURE_TIMEOUT_MS, profileMs: PROFILE_BEFORE_KILL_MS, profileDir: options.profileDir, profileDirMaxBytes: options.profileDirMaxBytes, maxMemoryBytes: options.maxMemoryBytes, heapSnapshotDir: options.heapSnapshotDir, gracefulTimeoutMs: options.gracefulTimeoutMs },
      { clock, log, identify: (id) => this.state.workers.find((worker) => worker.id === id), send: (id, message) => this.fleet.send(id, message) },
    );
    this.memoryFit = new MemoryFit(settings.memorySizing, log);
    this.fleet = new Fleet({
      clock, log, listener: this.listener, evidence: this.evidence, prober: this.prober, state: () => this.state, dispatch: (event) => this.dispatch(event),
      onRss: (id, rssBytes) => {
        const workers = this.memoryFit.onRss(this.fleet.record(id), rssBytes, this.state.targetWorkers);
        if (workers !== undefined) this.dispatch({ type: 'ScaleRequested', requestId: 0, source: '--workers auto (memory)', workers });
      },
    });
    this.adminSource = {
      state: () => this.state, now: () => this.clock.now(), requiredReady: () => this.requiredReady(),
      info: () => ({ ...(this.info as PrimaryInfo), requiredReady: this.requiredReady(), control: this.controlPath ?? null }),
      pendingHandoffs: (id) => this.listener.pendingCount(id), inspectPort: (id) => this.evidence.inspectPort(id),
      connections: this.listener.stats, incidents: this.evidence.incidents, timeline: this.timeline, log, appMetrics: () => this.fleet.appMetrics(),
      acceptQueue: () => this.acceptQueue(), backlog: options.backlog,
    };
    this.admin = new AdminServer(adminRoutes(this.adminSource),
      (path, error) => this.log.log('error', LOG_EVENTS.adminError, `admin ${path} failed: ${String(error)}`, { path, error: serializeError(error) }));
    this.control = new ControlServer((request, progress) => this.onControlRequest(request, progress));
  }

  /** Bind the service and admin ports (failing fast with a clear error), then start the workers. */
  async start(): Promise<Started> {
    const { settings, listener } = this;
    const options = settings.options;
    // Found while the ports are bound, so that the first spawn does not wait on it.
    const launcherFound = probeParentDeathLauncher();
    // --fd, or systemd socket activation: the socket outlives this primary, so a restart refuses nothing.
    const inherited = inheritedSockets(process.env, process.pid, options.fd);
    const unix = (path: string): AddressInfo & { path: string } => ({ address: '', family: 'unix', port: 0, path });
    let listen: AddressInfo | (AddressInfo & { path: string });
    if (inherited.service !== undefined) {
      const bound = await listener.listenFd(inherited.service, 'service');
      listen = 'path' in bound ? unix(bound.path) : bound;
    } else {
      listen = options.uds === undefined
        ? await listener.listen(options.host, options.port, 'service')
        : unix((await listener.listenUnix(options.uds, options.udsMode, 'service')).path);
    }
    const socketPath = 'path' in listen ? (listen as { path: string }).path : undefined;
    const listenHost = inherited.service === undefined ? options.host : listen.address;
    const bindAdmin = inherited.admin === undefined ? this.admin.listen(options.adminHost, options.adminPort) : this.admin.listenFd(inherited.admin);
    const admin = await bindAdmin.catch(async (error: unknown) => {
      await listener.close();
      throw error;
    });
    // Named by the absolute path of --uds, as `warden reload --uds PATH` finds it from any directory.
    const control = options.control ?? defaultControlPath(socketPath === undefined ? listen.port : resolvePath(socketPath), process.env, process.getuid?.() ?? 0, tmpdir());
    await this.control.listen(control).catch(async (error: unknown) => {
      await Promise.all([listener.close(), this.admin.close()]);
      throw error;
    });
    this.controlPath = control;
    if (!isLoopbackHost(options.adminHost)) {
      this.log.log('warn', LOG_EVENTS.adminExposed,
        `the admin server listens on ${options.adminHost}, reachable from other machines: it shows worker pids, file paths and incidents with stacks; keep it private (--admin-host 127.0.0.1, a firewall, or a network policy that admits only the probes)`,
        { host: options.adminHost, port: admin.port });
    }
    if (options.probePath !== undefined || options.compareProbe) await this.prober.start();
    this.info = {
      pid: process.pid, version: settings.version, module: settings.moduleLabel,
      listen: socketPath === undefined ? { host: listenHost, port: listen.port } : { host: '', port: 0, path: socketPath },
      admin: { host: inherited.admin === undefined ? options.adminHost : admin.address, port: admin.port },
      startedAt: this.clock.now(), requiredReady: this.requiredReady(),
    };
    this.spawnBase = {
      entry: WORKER_ENTRY, config: workerConfig(settings, listen), env: withoutSystemdEnv(settings.workerEnv ?? process.env), nodeArgs: options.nodeArgs,
      ...(settings.cwd === undefined ? {} : { cwd: settings.cwd }),
    };
    const done = new Promise<RunResult>((resolve) => (this.finish = resolve));
    this.systemd = new SystemdLink(this.clock, this.log);
    this.timers.push(this.clock.setInterval(() => this.dispatch({ type: 'Tick' }), TICK_MS));
    this.timers.push(this.clock.setInterval(() => listener.sweep(), 100));
    const { probePath, probeTimeoutMs } = options;
    if (probePath !== undefined) {
      this.timers.push(this.clock.setInterval(() => {
        for (const worker of this.state.workers) if (worker.state === 'ready' && !worker.retiring) this.fleet.probe(worker.id, probePath, probeTimeoutMs);
      }, options.probeIntervalMs));
    }
    if (options.reload) {
      this.sourceWatch = watchSources(
        { dirs: options.reloadDirs.length > 0 ? options.reloadDirs : [dirname(settings.modulePath)], include: options.reloadInclude, exclude: options.reloadExclude, debounceMs: 300 },
        (changed) => this.dispatch({ type: 'ReloadRequested', requestId: 0, source: `a change to ${changed}` }),
        (message) => this.log.log('warn', LOG_EVENTS.fileChanged, message, {}),
      );
    }
    await launcherFound;
    this.dispatch({ type: 'Tick' });
    return { listen: this.info.listen, admin: this.info.admin, control, done };
  }

  /** Rolling reload to the code now on disk; resolves when it completed, failed or was stopped. */
  reload(progress: (message: string) => void = () => undefined): Promise<LifecycleOutcome> {
    return this.request(progress, (requestId) => ({ type: 'ReloadRequested', requestId, source: 'warden reload' }));
  }

  /** Move the worker count to `workers`, or by `delta`; resolves when the fleet matches the target. */
  scale(target: { workers: number } | { delta: number }, progress: (message: string) => void = () => undefined): Promise<LifecycleOutcome> {
    return this.request(progress, (requestId) => ({ type: 'ScaleRequested', requestId, source: 'warden scale', ...target }));
  }

  private request(progress: (message: string) => void, event: (requestId: number) => MachineEvent): Promise<LifecycleOutcome> {
    const { requestId, outcome } = this.requests.open(progress);
    this.dispatch(event(requestId));
    return outcome;
  }

  private async onControlRequest(request: ControlRequest, progress: (message: string) => void): Promise<{ ok: boolean; message: string; data?: unknown }> {
    switch (request.cmd) {
      case 'reload':
        return this.reload(progress);
      case 'scale':
        return this.scale('workers' in request ? { workers: request.workers } : { delta: request.delta }, progress);
      case 'status':
        return { ok: true, message: 'status', data: workersBody(this.adminSource) };
      case 'profile':
        return this.profile(request.slot, request.seconds, progress);
      default: {
        const impossible: never = request;
        throw new Error(`supervisor: unknown control request ${JSON.stringify(impossible)}`);
      }
    }
  }

  /** `warden profile <slot>`: a CPU profile of the slot's live worker through its inspector (127.0.0.1 only). */
  private async profile(slot: number, seconds: number, progress: (message: string) => void): Promise<{ ok: boolean; message: string; data?: unknown }> {
    const worker = this.state.workers.find((candidate) => candidate.slot === slot && candidate.state === 'ready' && candidate.pid !== undefined);
    if (worker?.pid === undefined) return { ok: false, message: `no ready worker in slot ${slot}` };
    const port = this.evidence.inspectPort(worker.id);
    if (port === undefined) return { ok: false, message: `worker ${slot} (pid ${worker.pid}) has no inspector port: it was started with --capture-stacks off` };
    progress(`profiling worker ${slot} (pid ${worker.pid}) for ${seconds}s`);
    const summary = await this.evidence.profile(worker.pid, port, slot, Math.round(seconds * 1000));
    if (!('top' in summary)) return { ok: false, message: `no profile of worker ${slot} (pid ${worker.pid}): ${summary.reason}` };
    const saved = summary.path !== undefined ? `saved as ${summary.path}` : summary.notSaved !== undefined ? `not saved: ${summary.notSaved}` : 'not saved (no --profile-dir)';
    return { ok: true, message: `worker ${slot} (pid ${worker.pid}), ${seconds}s, ${saved}; top functions by self time:\n${formatTopFunctions(summary.top) || '(no samples)'}`, data: summary };
  }

  /** Put an event on the queue; a signal handler does nothing else. */
  dispatch(event: MachineEvent): void {
    this.queue.push(event);
    if (this.isProcessing) return;
    this.isProcessing = true;
    try {
      while (this.queue.length > 0) {
        const result = step(this.state, this.queue.shift() as MachineEvent, this.clock.now());
        this.state = result.state;
        for (const effect of result.effects) this.perform(effect);
      }
      // The listener passes the rotation on only when it changed (an unchanged one is the same array).
      const rotation = rotationOf(this.state);
      this.listener.setRotation(rotation);
      if (this.systemd?.isActive === true) {
        this.systemd.update({
          phase: this.state.phase, isReady: readyz(this.state, this.requiredReady()).status === 200,
          reloadingTo: this.state.reload?.generation, inRotation: rotation.length, targetWorkers: this.state.targetWorkers,
        });
      }
    } finally {
      this.isProcessing = false;
    }
  }

  /** The service socket's accept queue (Linux /proc/net/tcp), null for a unix socket or off Linux. */
  private acceptQueue(): number | null {
    const listen = this.info?.listen;
    if (listen === undefined || listen.path !== undefined) return null;
    return readAcceptQueue({ port: listen.port, ...(this.listener.listenerInode === undefined ? {} : { inode: this.listener.listenerInode }) });
  }

  get snapshot(): MachineState {
    return this.state;
  }

  /** Last resort on an unexpected primary exit: no worker may outlive the primary. */
  killAll(): void {
    this.fleet.killAll();
    this.listener.destroyAll();
  }

  private perform(effect: Effect): void {
    switch (effect.type) {
      case 'Spawn': {
        const spawn = (port: number | undefined) => this.fleet.spawnSoon(this.spawnBase as SpawnBase, effect.id, effect.slot, effect.generation, effect.workerCount, port);
        // The port is only reserved here; nothing listens on it until a capture sends SIGUSR1.
        if (this.settings.options.captureStacks) void freeInspectPort().then(spawn, () => spawn(undefined));
        else spawn(undefined);
        return;
      }
      case 'Probe':
        if (this.settings.options.probePath !== undefined) this.fleet.probe(effect.id, this.settings.options.probePath, this.settings.options.probeTimeoutMs);
        return;
      case 'CompareProbe':
        this.fleet.compare(effect.id, effect.peerId, this.settings.options.probePath ?? '/', effect.timeoutMs);
        return;
      case 'Notify':
        this.requests.notify(effect);
        return;
      case 'CaptureStack':
        void this.evidence.stalled(effect.id, effect.pid, effect.slot, effect.reason).then(() => this.dispatch({ type: 'StackCaptured', id: effect.id }));
        return;
      case 'ReportRequests':
        void this.evidence.requestsInFlight(effect.id, effect.slot, effect.reason.startsWith('stuck') ? 'stuck' : 'unhealthy', effect.reason);
        return;
      case 'ReportMemory':
        void this.evidence.memory(effect.id, effect.slot, effect.reason);
        return;
      case 'Signal':
        signalProcess(effect.pid, effect.signal);
        return;
      case 'Drain': {
        // While the listener closes, the connections it still takes go to these workers: they drain
        // (and may exit) only once it is closed, so none of those connections finds them gone.
        const drain = () => this.fleet.send(effect.id, { warden: 1, act: 'drain', reason: effect.reason });
        if (this.listenerClosed === undefined) drain();
        else void this.listenerClosed.then(drain);
        return;
      }
      case 'CloseListener':
        this.listenerClosed ??= this.listener.close().catch(() => undefined);
        void this.prober.close();
        this.control.stopListening();
        return;
      case 'Log':
        this.log.log(effect.level, effect.event, effect.msg, effect.fields);
        this.timeline.add(this.clock.now(), effect.level, effect.event, effect.msg, effect.fields);
        if (this.observe !== undefined) {
          const domain = domainEvent(effect.event, effect.fields, effect.msg);
          if (domain !== undefined) this.observe(domain);
        }
        return;
      case 'Exit':
        void this.shutdown({ code: effect.code, halt: effect.halt });
        return;
      default: {
        const impossible: never = effect;
        throw new Error(`supervisor: unknown effect ${JSON.stringify(impossible)}`);
      }
    }
  }

  private async shutdown(result: RunResult): Promise<void> {
    for (const timer of this.timers) timer.cancel();
    this.sourceWatch?.close();
    this.killAll();
    this.requests.abandonAll();
    await Promise.all([this.listener.close(), this.admin.close(), this.prober.close(), this.control.close()]);
    // STOPPING=1 (sent when the stop began) reaches systemd before the main process is gone.
    await this.systemd?.close();
    this.finish?.(result);
  }

  private requiredReady(): number {
    return requiredReady(this.settings.options, this.state.targetWorkers);
  }
}
