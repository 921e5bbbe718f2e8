// The thin shell around machine.ts: one event queue, drained in order; each event goes through
// step(), and the effects it returns are carried out here (fork, signal, drain, close, log, exit),
// their results coming back as new events. Owns the listeners, the admin server and the probes.

import { fileURLToPath } from 'node:url';
import type { Clock } from '../clock.js';
import type { ServeOptions } from '../config/options.js';
import { requiredReady } from '../config/resolve.js';
import { lateAfterMs } from '../health/verdicts.js';
import { livez, readyz, workersReport, type PrimaryInfo } from '../health/report.js';
import { LOG_EVENTS } from '../log/events.js';
import type { Logger } from '../log/logger.js';
import type { WorkerConfig, WorkerMessage } from '../protocol/messages.js';
import { EvidenceCollector } from '../diagnose/evidence.js';
import { freeInspectPort } from '../diagnose/stack-capture.js';
import { AdminServer } from './admin-server.js';
import { ConnectionDispatcher } from './connections.js';
import type { ListeningHandle } from './raw-accept.js';
import { initialState, isInRotation, step, type Effect, type HaltInfo, type MachineConfig, type MachineEvent, type MachineState } from './machine.js';
import { DEFAULT_BACKOFF } from './policy.js';
import { Prober } from './probes.js';
import { signalProcess, WorkerProcess } from './processes.js';

export const HEARTBEAT_INTERVAL_MS = 250;
const TICK_MS = 50;
/** How long the kill of a stalled worker waits for its stack (a capture takes ~100 ms). */
const CAPTURE_TIMEOUT_MS = 1500;

export interface SupervisorSettings {
  options: ServeOptions;
  modulePath: string;
  exportName: string | undefined;
  /** The module as the user wrote it, for messages. */
  moduleLabel: string;
  version: string;
}

export interface RunResult {
  code: number;
  halt: HaltInfo | undefined;
}

export interface Started {
  listen: { host: string; port: number };
  admin: { host: string; port: number };
  /** Resolves when the supervisor has stopped every worker and wants the process to exit. */
  done: Promise<RunResult>;
}

export class Supervisor {
  private state: MachineState;
  private readonly queue: MachineEvent[] = [];
  private processing = false;
  private readonly workers = new Map<number, WorkerProcess>();
  private readonly dispatcher: ConnectionDispatcher;
  private readonly admin: AdminServer;
  private readonly prober: Prober;
  private readonly timers: { cancel(): void }[] = [];
  private info: PrimaryInfo | undefined;
  private workerConfig: WorkerConfig | undefined;
  private finish: ((result: RunResult) => void) | undefined;
  private probing = new Set<number>();
  private readonly evidence: EvidenceCollector;

  constructor(
    private readonly settings: SupervisorSettings,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    const options = settings.options;
    this.state = initialState(machineConfig(options, settings.moduleLabel), clock.now());
    this.dispatcher = new ConnectionDispatcher({
      holdLimit: 4096, holdTimeoutMs: options.bootTimeoutMs, slowAckMs: 200, acceptWindowMs: 500, reclaimAfterMs: 1000, mode: options.balance,
    });
    this.admin = new AdminServer({
      '/livez': () => livez(this.state),
      '/readyz': () => readyz(this.state, this.requiredReady()),
      '/workers': () => ({ status: 200, body: this.workersBody() }),
      '/incidents': () => ({ status: 200, body: { incidents: this.evidence.incidents.all() } }),
    });
    this.prober = new Prober((workerId, socket) => this.dispatcher.handTo(workerId, socket));
    this.evidence = new EvidenceCollector(
      { captureTimeoutMs: CAPTURE_TIMEOUT_MS, maxMemoryBytes: options.maxMemoryBytes, heapSnapshotDir: options.heapSnapshotDir, gracefulTimeoutMs: options.gracefulTimeoutMs },
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
    const listen = await this.dispatcher.listen(options.host, options.port, 'service');
    let admin;
    try {
      admin = await this.admin.listen(options.adminHost, options.adminPort);
    } catch (error) {
      await this.dispatcher.close();
      throw error;
    }
    if (options.probePath !== undefined) await this.prober.start();
    this.info = {
      pid: process.pid, version: this.settings.version, module: this.settings.moduleLabel,
      listen: { host: options.host, port: listen.port }, admin: { host: options.adminHost, port: admin.port },
      startedAt: this.clock.now(), requiredReady: this.requiredReady(),
    };
    this.workerConfig = {
      modulePath: this.settings.modulePath,
      ...(this.settings.exportName === undefined ? {} : { exportName: this.settings.exportName }),
      factory: options.factory,
      port: listen.port,
      address: { address: listen.address, family: listen.family, port: listen.port },
      heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
      requestTimeoutMs: options.requestTimeoutMs,
      listenWaitMs: options.bootTimeoutMs,
    };
    const done = new Promise<RunResult>((resolve) => {
      this.finish = resolve;
    });
    this.timers.push(this.clock.setInterval(() => this.dispatch({ type: 'Tick' }), TICK_MS));
    this.timers.push(this.clock.setInterval(() => this.dispatcher.sweep(), 100));
    if (options.probePath !== undefined) {
      const path = options.probePath;
      this.timers.push(this.clock.setInterval(() => this.probeAll(path), options.probeIntervalMs));
    }
    this.dispatch({ type: 'Tick' });
    return { listen: this.info.listen, admin: this.info.admin, done };
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
      case 'Spawn':
        if (this.settings.options.captureStacks) {
          // The port is only reserved here; nothing listens on it until a capture sends SIGUSR1.
          void freeInspectPort().then(
            (port) => this.spawn(effect.id, effect.slot, effect.generation, port),
            () => this.spawn(effect.id, effect.slot, effect.generation, undefined),
          );
        } else {
          this.spawn(effect.id, effect.slot, effect.generation, undefined);
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
      case 'Drain':
        this.workers.get(effect.id)?.send({ warden: 1, act: 'drain', reason: effect.reason });
        return;
      case 'CloseListener':
        void this.dispatcher.close();
        void this.prober.close();
        return;
      case 'Log':
        this.log.log(effect.level, effect.event, effect.msg, effect.fields);
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

  private spawn(id: number, slot: number, generation: number, inspectPort: number | undefined): void {
    const config = this.workerConfig as WorkerConfig;
    let pid = 0;
    if (inspectPort !== undefined) this.evidence.assignInspectPort(id, inspectPort);
    const worker = new WorkerProcess(
      {
        entry: WORKER_ENTRY, slot, generation, workerCount: this.state.slots.length, config,
        env: process.env, execArgv: inspectPort === undefined ? [] : [`--inspect-port=127.0.0.1:${inspectPort}`],
      },
      {
        onSpawn: (spawnedPid) => {
          pid = spawnedPid;
          this.dispatch({ type: 'WorkerSpawned', id, pid: spawnedPid });
        },
        onSpawnError: (error) => this.dispatch({ type: 'WorkerSpawnFailed', id, error }),
        onMessage: (message, handle) => this.onWorkerMessage(id, message, handle),
        onLine: (stream, line) => this.log.workerLine(slot, pid, stream, line),
        onExit: (code, signal) => {
          this.workers.delete(id);
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
    });
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
      case 'heartbeat':
        this.evidence.onHeartbeat(id, message.stats);
        this.dispatch({ type: 'HeartbeatReceived', id, stats: message.stats });
        return;
      case 'heapSnapshot':
      case 'report':
        this.evidence.onReply(id, message);
        return;
      case 'bootError':
        this.dispatch({ type: 'WorkerBootFailed', id, error: message.error });
        return;
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

  private probeAll(path: string): void {
    const { probeTimeoutMs } = this.settings.options;
    for (const worker of this.state.workers) {
      if (worker.state !== 'ready' || worker.retiring || this.probing.has(worker.id)) continue;
      const id = worker.id;
      this.probing.add(id);
      void this.prober.probe(id, path, probeTimeoutMs).then((result) => {
        this.probing.delete(id);
        this.dispatch(result.ok ? { type: 'ProbeSucceeded', id } : { type: 'ProbeFailed', id, reason: result.reason });
      });
    }
  }

  private async shutdown(result: RunResult): Promise<void> {
    for (const timer of this.timers) timer.cancel();
    this.killAll();
    await Promise.all([this.dispatcher.close(), this.admin.close(), this.prober.close()]);
    this.finish?.(result);
  }

  private requiredReady(): number {
    return requiredReady(this.settings.options, this.settings.options.workers);
  }

  private workersBody() {
    const info = this.info as PrimaryInfo;
    const report = workersReport(this.state, info, this.clock.now(), (id) => ({
      pendingHandoffs: this.dispatcher.pendingCount(id),
      inspectPort: this.evidence.inspectPort(id) ?? null,
    }));
    const workers = report.workers.map((worker) => ({ ...worker, incidents: this.evidence.incidents.forSlot(worker.slot) }));
    return { ...report, workers, connections: { ...this.dispatcher.stats } };
  }
}

const WORKER_ENTRY = fileURLToPath(new URL('../worker/main.js', import.meta.url));

export function machineConfig(options: ServeOptions, appLabel: string): MachineConfig {
  return {
    appLabel,
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
    captureTimeoutMs: CAPTURE_TIMEOUT_MS,
    maxMemoryBytes: options.maxMemoryBytes,
    heapSnapshotOnRecycle: options.heapSnapshotDir !== undefined,
  };
}
