// The thin shell around machine.ts: one event queue, drained in order; each event goes through
// step(), and the effects it returns are carried out here (fork, signal, drain, close, log, exit),
// their results coming back as new events. Owns the listeners, the admin server and the probes.

import { tmpdir } from 'node:os';
import { dirname, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../clock.js';
import { defaultControlPath, type ControlRequest } from '../control/protocol.js';
import { ControlServer } from '../control/server.js';
import type { ServeOptions } from '../config/options.js';
import { requiredReady } from '../config/resolve.js';
import { workersThatFit } from '../config/memory.js';
import { WORKER_RSS_ESTIMATE_BYTES, type SizingFacts } from '../config/worker-sizing.js';
import { lateAfterMs } from '../health/verdicts.js';
import { livez, readyz, workersReport, type PrimaryInfo } from './admin/report.js';
import { MAX_LINE_BYTES, type Logger } from '../log/logger.js';
import { LOG_EVENTS } from '../log/events.js';
import { serializeError, type WorkerConfig, type WorkerMessage } from '../protocol/messages.js';
import { domainEvent, type DomainObserver } from '../protocol/events.js';
import { EvidenceCollector } from '../diagnose/evidence.js';
import { freeInspectPort } from '../diagnose/stack-capture.js';
import { dashboardPage } from '../dashboard/page.js';
import type { AppMetricsSample, MetricsSource, WardenMetrics } from '../metrics/metrics.js';
import { AdminServer, isLoopbackHost } from './admin-server.js';
import { ConnectionDispatcher } from './connections.js';
import type { ListeningHandle } from './raw-accept.js';
import { initialState, isInRotation, step, type Effect, type HaltInfo, type MachineConfig, type MachineEvent, type MachineState } from './machine/index.js';
import { DEFAULT_BACKOFF } from './policy.js';
import { Prober } from './probes.js';
import { signalProcess, WorkerProcess } from './processes.js';
import { watchSources, type SourceWatch } from './source-watch.js';

export const HEARTBEAT_INTERVAL_MS = 250;
const TICK_MS = 50;
/** How long the kill of a stalled worker waits for its stack (a capture takes ~100 ms). */
const CAPTURE_TIMEOUT_MS = 1500;
/** The CPU profile of a stalled worker runs this long after its stack, before the kill. */
const PROFILE_BEFORE_KILL_MS = 1000;

export interface SupervisorSettings {
  options: ServeOptions;
  modulePath: string;
  exportName: string | undefined;
  /** The module as the user wrote it, for messages. */
  moduleLabel: string;
  version: string;
  /** Arguments for the app: each worker's process.argv is [node, modulePath, ...appArgs]. */
  appArgs?: readonly string[];
  /**
   * --workers auto under a cgroup memory limit: the facts the count was first set from, with an
   * estimated worker RSS. Once the first worker is ready its real RSS replaces the estimate.
   */
  memorySizing?: SizingFacts;
  /** Environment of every worker (before warden's own variables); process.env when absent. */
  workerEnv?: NodeJS.ProcessEnv;
  /** Working directory of every worker; the primary's when absent. */
  cwd?: string;
  /** HTTPS: absolute paths of the PEM files, already checked (api/launch.ts). */
  tls?: { keyfile: string; certfile: string; ca?: string };
}

/** Told the programmatic API's events (protocol/events.ts), each after its log line is written. */
export type SupervisorObserver = DomainObserver;

export interface RunResult {
  code: number;
  halt: HaltInfo | undefined;
}

/** How a reload or scale asked through the control channel (or the API) ended. */
export interface LifecycleOutcome {
  ok: boolean;
  message: string;
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
  private processing = false;
  private readonly workers = new Map<number, WorkerProcess>();
  /** Worker starts waiting for their turn of the event loop (spawnSoon). */
  private readonly spawnQueue: (() => void)[] = [];
  private spawnScheduled = false;
  private readonly dispatcher: ConnectionDispatcher;
  /** Set when the listener starts closing: it first takes the connections still queued in the kernel. */
  private listenerClosed: Promise<void> | undefined;
  private readonly admin: AdminServer;
  private readonly prober: Prober;
  private readonly timers: { cancel(): void }[] = [];
  private info: PrimaryInfo | undefined;
  private workerConfig: WorkerConfig | undefined;
  private finish: ((result: RunResult) => void) | undefined;
  private probing = new Set<number>();
  private readonly evidence: EvidenceCollector;
  private readonly control: ControlServer;
  private controlPath: string | undefined;
  private sourceWatch: SourceWatch | undefined;
  /** Control requests waiting for Notify effects, by request id (0 is reserved for "nobody waits"). */
  private readonly waiting = new Map<number, { progress: (message: string) => void; done: (outcome: LifecycleOutcome) => void }>();
  private nextRequestId = 1;
  private isSizedForMemory = false;
  /** The app's own metrics last pushed by each live worker, by worker id. */
  private readonly appMetrics = new Map<number, AppMetricsSample>();
  /** The latest supervisor events, for the dashboard's timeline (GET /events). */
  private readonly timeline: TimelineEntry[] = [];
  private timelineSeq = 0;
  /** Built on the first scrape (prom-client is loaded then): values are read at scrape time anyway. */
  private metrics: Promise<WardenMetrics> | undefined;
  private readonly metricsSource: MetricsSource;

  constructor(
    private readonly settings: SupervisorSettings,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly observe?: SupervisorObserver,
  ) {
    const options = settings.options;
    this.state = initialState(machineConfig(options, settings.moduleLabel, settings.appArgs), clock.now());
    this.dispatcher = new ConnectionDispatcher({
      holdLimit: 4096, holdTimeoutMs: options.bootTimeoutMs, slowAckMs: 200, acceptWindowMs: 500, reclaimAfterMs: 1000, mode: options.balance, sticky: options.sticky,
    });
    this.admin = new AdminServer({
      '/livez': () => livez(this.state),
      '/readyz': () => readyz(this.state, this.requiredReady()),
      '/workers': () => ({ status: 200, body: this.workersBody() }),
      '/incidents': () => ({ status: 200, body: { incidents: this.evidence.incidents.all() } }),
      '/events': () => ({ status: 200, body: { events: this.timeline } }),
      '/metrics': async () => {
        this.metrics ??= import('../metrics/metrics.js').then(({ WardenMetrics }) => new WardenMetrics(this.metricsSource));
        const metrics = await this.metrics;
        return { status: 200, contentType: metrics.contentType, text: await metrics.render() };
      },
      '/': () => ({ status: 200, contentType: 'text/html; charset=utf-8', text: dashboardPage() }),
    }, (path, error) => this.log.log('error', LOG_EVENTS.adminError, `admin ${path} failed: ${String(error)}`, { path, error: serializeError(error) }));
    this.metricsSource = {
      state: () => this.state,
      now: () => this.clock.now(),
      connections: () => this.dispatcher.stats,
      logDrops: () => {
        const stats = this.log.streamStats();
        return { stdout: stats.stdout.droppedLines, stderr: stats.stderr.droppedLines };
      },
      appMetrics: () => [...this.appMetrics.values()],
    };
    this.prober = new Prober((workerId, socket) => this.dispatcher.handTo(workerId, socket), settings.tls !== undefined);
    this.control = new ControlServer((request, progress) => this.onControlRequest(request, progress));
    this.evidence = new EvidenceCollector(
      { captureTimeoutMs: CAPTURE_TIMEOUT_MS, profileMs: PROFILE_BEFORE_KILL_MS, profileDir: options.profileDir, profileDirMaxBytes: options.profileDirMaxBytes, maxMemoryBytes: options.maxMemoryBytes, heapSnapshotDir: options.heapSnapshotDir, gracefulTimeoutMs: options.gracefulTimeoutMs },
      {
        clock, log,
        identify: (id) => this.state.workers.find((worker) => worker.id === id),
        send: (id, message) => this.workers.get(id)?.send(message),
      },
    );
  }

  /** Bind the service and admin ports (failing fast with a clear error), then start the workers. */
  async start(): Promise<Started> {
    const options = this.settings.options;
    const listen = options.uds === undefined
      ? await this.dispatcher.listen(options.host, options.port, 'service')
      : { address: '', family: 'unix', port: 0, path: (await this.dispatcher.listenUnix(options.uds, options.udsMode, 'service')).path };
    const socketPath = 'path' in listen ? listen.path : undefined;
    let admin;
    try {
      admin = await this.admin.listen(options.adminHost, options.adminPort);
    } catch (error) {
      await this.dispatcher.close();
      throw error;
    }
    // Named by the absolute path of --uds, as `warden reload --uds PATH` finds it from any directory.
    const controlPath = options.control ?? defaultControlPath(socketPath === undefined ? listen.port : resolvePath(socketPath), process.env, process.getuid?.() ?? 0, tmpdir());
    try {
      await this.control.listen(controlPath);
    } catch (error) {
      await Promise.all([this.dispatcher.close(), this.admin.close()]);
      throw error;
    }
    this.controlPath = controlPath;
    if (!isLoopbackHost(options.adminHost)) {
      this.log.log('warn', LOG_EVENTS.adminExposed,
        `the admin server listens on ${options.adminHost}, reachable from other machines: it shows worker pids, file paths and incidents with stacks; keep it private (--admin-host 127.0.0.1, a firewall, or a network policy that admits only the probes)`,
        { host: options.adminHost, port: admin.port });
    }
    if (options.probePath !== undefined) await this.prober.start();
    this.info = {
      pid: process.pid, version: this.settings.version, module: this.settings.moduleLabel,
      listen: socketPath === undefined ? { host: options.host, port: listen.port } : { host: '', port: 0, path: socketPath }, admin: { host: options.adminHost, port: admin.port },
      startedAt: this.clock.now(), requiredReady: this.requiredReady(),
    };
    this.workerConfig = {
      modulePath: this.settings.modulePath,
      ...(this.settings.exportName === undefined ? {} : { exportName: this.settings.exportName }),
      factory: options.factory,
      port: listen.port,
      // A unix socket's server.address() is its path, as node:net reports it.
      address: socketPath ?? { address: listen.address, family: listen.family, port: listen.port },
      ...(socketPath === undefined ? {} : { socketPath }),
      heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
      requestTimeoutMs: options.requestTimeoutMs,
      listenWaitMs: options.bootTimeoutMs,
      gracefulTimeoutMs: options.gracefulTimeoutMs,
      accessLog: options.accessLog,
      logFormat: options.logFormat,
      args: [...(this.settings.appArgs ?? [])],
      ...(this.settings.tls === undefined ? {} : { tls: this.settings.tls }),
    };
    const done = new Promise<RunResult>((resolve) => {
      this.finish = resolve;
    });
    this.timers.push(this.clock.setInterval(() => this.dispatch({ type: 'Tick' }), TICK_MS));
    this.timers.push(this.clock.setInterval(() => this.dispatcher.sweep(), 100));
    if (options.probePath !== undefined) this.timers.push(this.clock.setInterval(() => this.probeAll(), options.probeIntervalMs));
    if (options.reload) {
      const dirs = options.reloadDirs.length > 0 ? options.reloadDirs : [dirname(this.settings.modulePath)];
      this.sourceWatch = watchSources(
        { dirs, include: options.reloadInclude, exclude: options.reloadExclude, debounceMs: 300 },
        (changed) => this.dispatch({ type: 'ReloadRequested', requestId: 0, source: `a change to ${changed}` }),
        (message) => this.log.log('warn', LOG_EVENTS.fileChanged, message, {}),
      );
    }
    this.dispatch({ type: 'Tick' });
    return { listen: this.info.listen, admin: this.info.admin, control: controlPath, done };
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
    const requestId = this.nextRequestId++;
    return new Promise((resolve) => {
      this.waiting.set(requestId, { progress, done: resolve });
      this.dispatch(event(requestId));
    });
  }

  private async onControlRequest(request: ControlRequest, progress: (message: string) => void): Promise<{ ok: boolean; message: string; data?: unknown }> {
    switch (request.cmd) {
      case 'reload':
        return this.reload(progress);
      case 'scale':
        return this.scale('workers' in request ? { workers: request.workers } : { delta: request.delta }, progress);
      case 'status':
        return { ok: true, message: 'status', data: this.workersBody() };
      default: {
        const impossible: never = request;
        throw new Error(`supervisor: unknown control request ${JSON.stringify(impossible)}`);
      }
    }
  }

  /** Put an event on the queue; a signal handler does nothing else. */
  dispatch(event: MachineEvent): void {
    this.queue.push(event);
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.queue.length > 0) {
        const next = this.queue.shift() as MachineEvent;
        const result = step(this.state, next, this.clock.now());
        this.state = result.state;
        for (const effect of result.effects) this.perform(effect);
      }
      this.dispatcher.setRotation(
        this.state.workers.filter((worker) => isInRotation(this.state, worker)).sort((a, b) => a.slot - b.slot).map((worker) => worker.id),
      );
    } finally {
      this.processing = false;
    }
  }

  get snapshot(): MachineState {
    return this.state;
  }

  /** Last resort on an unexpected primary exit: no worker may outlive the primary. */
  killAll(): void {
    for (const worker of this.workers.values()) {
      if (worker.pid !== undefined) signalProcess(worker.pid, 'SIGKILL');
    }
    this.dispatcher.destroyAll();
  }

  private perform(effect: Effect): void {
    switch (effect.type) {
      case 'Spawn': {
        const spawn = (port: number | undefined) => this.spawnSoon(() => this.spawn(effect.id, effect.slot, effect.generation, effect.workerCount, port));
        // The port is only reserved here; nothing listens on it until a capture sends SIGUSR1.
        if (this.settings.options.captureStacks) void freeInspectPort().then(spawn, () => spawn(undefined));
        else spawn(undefined);
        return;
      }
      case 'Probe':
        this.probeOne(effect.id);
        return;
      case 'Notify':
        for (const requestId of effect.requestIds) {
          const waiting = this.waiting.get(requestId);
          if (waiting === undefined) continue;
          if (effect.done === undefined) {
            waiting.progress(effect.message);
          } else {
            this.waiting.delete(requestId);
            waiting.done({ ok: effect.done.ok, message: effect.message });
          }
        }
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
        const drain = () => this.workers.get(effect.id)?.send({ warden: 1, act: 'drain', reason: effect.reason });
        if (this.listenerClosed === undefined) drain();
        else void this.listenerClosed.then(drain);
        return;
      }
      case 'CloseListener':
        this.listenerClosed ??= this.dispatcher.close().catch(() => undefined);
        void this.prober.close();
        return;
      case 'Log':
        this.log.log(effect.level, effect.event, effect.msg, effect.fields);
        this.remember(effect.level, effect.event, effect.msg, effect.fields);
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

  /**
   * Start workers one per turn of the event loop. A spawn blocks the primary until the child has
   * executed node (libuv waits for the exec): ~7 ms on an idle machine, 40-60 ms when the CPUs are
   * saturated, as in a crash storm where every slot boots at once. In turns of their own, the admin
   * server, IPC and the log run between two spawns, so ten restarts due together stall the primary
   * for one spawn at a time, not for ten in a row.
   */
  private spawnSoon(start: () => void): void {
    this.spawnQueue.push(start);
    if (this.spawnScheduled) return;
    this.spawnScheduled = true;
    setImmediate(() => this.spawnNext());
  }

  private spawnNext(): void {
    this.spawnScheduled = false;
    this.spawnQueue.shift()?.();
    if (this.spawnQueue.length === 0 || this.spawnScheduled) return;
    this.spawnScheduled = true;
    setImmediate(() => this.spawnNext());
  }

  private spawn(id: number, slot: number, generation: number, workerCount: number, inspectPort: number | undefined): void {
    const config = this.workerConfig as WorkerConfig;
    let pid = 0;
    if (inspectPort !== undefined) this.evidence.assignInspectPort(id, inspectPort);
    const worker = new WorkerProcess(
      {
        entry: WORKER_ENTRY, slot, generation, workerCount, config, maxLineBytes: MAX_LINE_BYTES,
        env: this.settings.workerEnv ?? process.env,
        ...(this.settings.cwd === undefined ? {} : { cwd: this.settings.cwd }),
        execArgv: [...this.settings.options.nodeArgs, ...(inspectPort === undefined ? [] : [`--inspect-port=127.0.0.1:${inspectPort}`])],
      },
      {
        onSpawn: (spawnedPid) => {
          pid = spawnedPid;
          this.dispatch({ type: 'WorkerSpawned', id, pid: spawnedPid });
        },
        onSpawnError: (error) => this.dispatch({ type: 'WorkerSpawnFailed', id, error }),
        onMessage: (message, handle) => this.onWorkerMessage(id, message, handle),
        onLine: (stream, line, partial) => this.log.workerLine({ slot, pid, generation, partial }, pid, stream, line),
        onExit: (code, signal) => {
          this.workers.delete(id);
          this.appMetrics.delete(id);
          this.evidence.forget(id);
          this.dispatcher.removeWorker(id);
          this.dispatch({ type: 'WorkerExited', id, code, signal });
        },
      },
    );
    this.workers.set(id, worker);
    this.dispatcher.addWorker(id, {
      send: (connectionId, expiresAt, handle, onSent) => worker.send({ warden: 1, act: 'conn', id: connectionId, expiresAt }, handle, onSent),
      share: (listening, returnCopy) => worker.send({ warden: 1, act: 'listen', returnCopy }, listening),
      unshare: () => worker.send({ warden: 1, act: 'unlisten' }),
    }, slot);
  }

  private onWorkerMessage(id: number, message: WorkerMessage, handle: unknown): void {
    switch (message.act) {
      case 'accepted':
        this.dispatcher.acknowledge(id, message.id, message.connections);
        return;
      case 'listening':
        if (message.error !== undefined) {
          const worker = this.state.workers.find((w) => w.id === id);
          this.log.log('error', LOG_EVENTS.workerAcceptFailed, `worker ${worker?.slot ?? '?'} (pid ${worker?.pid ?? '?'}) cannot accept from the shared socket: ${message.error}`,
            { slot: worker?.slot, pid: worker?.pid, error: message.error });
        }
        this.dispatcher.listening(id, handle as ListeningHandle | undefined, message.error);
        return;
      case 'rejected':
        this.dispatcher.reclaim(id, message.id);
        return;
      case 'ready':
        this.dispatch({ type: 'WorkerReady', id });
        return;
      case 'sigterm':
        this.dispatch({ type: 'WorkerSigtermReceived', id });
        return;
      case 'heartbeat':
        this.evidence.onHeartbeat(id, message.stats);
        this.dispatch({ type: 'HeartbeatReceived', id, stats: message.stats });
        this.resizeForMemory(id, message.stats.rssBytes);
        return;
      case 'heapSnapshot':
      case 'report':
        this.evidence.onReply(id, message);
        return;
      case 'bootError':
        this.dispatch({ type: 'WorkerBootFailed', id, error: message.error });
        return;
      case 'metrics': {
        const worker = this.state.workers.find((candidate) => candidate.id === id);
        if (worker !== undefined) this.appMetrics.set(id, { slot: worker.slot, generation: worker.generation, receivedAt: this.clock.now(), metrics: message.metrics });
        return;
      }
      case 'crash':
        this.evidence.crashed(id, message.error);
        this.dispatch({ type: 'WorkerCrashed', id, error: message.error });
        return;
      default: {
        const impossible: never = message;
        throw new Error(`supervisor: unknown worker message ${JSON.stringify(impossible)}`);
      }
    }
  }

  private remember(level: string, event: string, msg: string, fields: Record<string, unknown>): void {
    const slot = typeof fields.slot === 'number' ? fields.slot : null;
    const pid = typeof fields.pid === 'number' ? fields.pid : null;
    this.timeline.push({ seq: ++this.timelineSeq, at: new Date(this.clock.now()).toISOString(), level, event, slot, pid, msg });
    if (this.timeline.length > TIMELINE_LENGTH) this.timeline.splice(0, this.timeline.length - TIMELINE_LENGTH);
  }

  /** Once: fit --workers auto to the memory limit with the first ready worker's measured RSS. */
  private resizeForMemory(id: number, rssBytes: number): void {
    const facts = this.settings.memorySizing;
    if (facts === undefined || this.isSizedForMemory) return;
    if (this.state.workers.find((worker) => worker.id === id)?.state !== 'ready' || !(rssBytes > 0)) return;
    this.isSizedForMemory = true;
    const fit = workersThatFit({ ...facts, primaryRssBytes: process.memoryUsage.rss(), workerRssBytes: Math.max(rssBytes, WORKER_RSS_ESTIMATE_BYTES) });
    if (fit.workers === this.state.targetWorkers) return;
    this.log.log('info', LOG_EVENTS.workersSized, `--workers auto: ${fit.workers} worker${fit.workers === 1 ? '' : 's'} with the first worker's measured RSS, set by ${fit.limitedBy}: ${fit.reason}`, {
      workers: fit.workers, limitedBy: fit.limitedBy, workerRssBytes: rssBytes,
    });
    this.dispatch({ type: 'ScaleRequested', requestId: 0, source: '--workers auto (memory)', workers: fit.workers });
  }

  private probeAll(): void {
    for (const worker of this.state.workers) {
      if (worker.state === 'ready' && !worker.retiring) this.probeOne(worker.id);
    }
  }

  private probeOne(id: number): void {
    const { probePath, probeTimeoutMs } = this.settings.options;
    if (probePath === undefined || this.probing.has(id)) return;
    this.probing.add(id);
    void this.prober.probe(id, probePath, probeTimeoutMs).then((result) => {
      this.probing.delete(id);
      this.dispatch(result.ok ? { type: 'ProbeSucceeded', id } : { type: 'ProbeFailed', id, reason: result.reason });
    });
  }

  private async shutdown(result: RunResult): Promise<void> {
    for (const timer of this.timers) timer.cancel();
    this.sourceWatch?.close();
    this.killAll();
    for (const [requestId, waiting] of this.waiting) {
      this.waiting.delete(requestId);
      waiting.done({ ok: false, message: 'warden stopped' });
    }
    await Promise.all([this.dispatcher.close(), this.admin.close(), this.prober.close(), this.control.close()]);
    this.finish?.(result);
  }

  private requiredReady(): number {
    return requiredReady(this.settings.options, this.state.targetWorkers);
  }

  private workersBody() {
    const info = { ...(this.info as PrimaryInfo), requiredReady: this.requiredReady(), control: this.controlPath ?? null };
    return workersReport(this.state, info, this.clock.now(), (id) => ({
      pendingHandoffs: this.dispatcher.pendingCount(id),
      inspectPort: this.evidence.inspectPort(id) ?? null,
    }), { incidents: (slot) => this.evidence.incidents.forSlot(slot), connections: { ...this.dispatcher.stats }, logs: this.log.streamStats() });
  }
}

const TIMELINE_LENGTH = 200;

export interface TimelineEntry {
  seq: number;
  at: string;
  level: string;
  event: string;
  slot: number | null;
  pid: number | null;
  msg: string;
}

const WORKER_ENTRY = fileURLToPath(new URL('../worker/main.js', import.meta.url));

export function machineConfig(options: ServeOptions, appLabel: string, appArgs: readonly string[] = []): MachineConfig {
  return {
    appLabel,
    // The hint to run the app alone keeps its arguments (`node node_modules/next/dist/bin/next start`).
    appCommand: ['node', appLabel, ...appArgs].map(shellWord).join(' '),
    workers: options.workers,
    bootTimeoutMs: options.bootTimeoutMs,
    timeoutMs: options.timeoutMs,
    lateMs: lateAfterMs(options.timeoutMs),
    gracefulTimeoutMs: options.gracefulTimeoutMs,
    stuckAfterMs: options.stuckAfterMs,
    probeFailures: options.probeFailures,
    maxRestarts: options.maxRestarts,
    backoff: DEFAULT_BACKOFF,
    killAfterMs: 2000,
    captureStacks: options.captureStacks,
    // The machine's deadline for the evidence: the stack's budget, then the profile's (itself with a budget).
    captureTimeoutMs: CAPTURE_TIMEOUT_MS + PROFILE_BEFORE_KILL_MS + CAPTURE_TIMEOUT_MS,
    maxMemoryBytes: options.maxMemoryBytes,
    heapSnapshotOnRecycle: options.heapSnapshotDir !== undefined,
    probeEnabled: options.probePath !== undefined,
    maxRequests: options.maxRequests,
    maxRequestsJitter: options.maxRequestsJitter,
  };
}

/** A word as a POSIX shell reads it back: quoted only when it holds more than safe characters. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
