// One record per live worker holding all its shell-side state (its process, the app metrics it last
// pushed, whether a probe is out), the IPC router that turns its messages into machine events, and
// the one cleanup on exit that also drops what the listener and the evidence keep for it.
// It decides nothing: the machine does, from the events this reports.

import type { Clock } from '../clock.js';
import type { EvidenceCollector } from '../diagnose/evidence.js';
import { freeInspectPort } from '../diagnose/stack-capture.js';
import { MAX_LINE_BYTES, type Logger } from '../log/logger.js';
import { LOG_EVENTS } from '../log/events.js';
import type { PrimaryMessage, WorkerMessage } from '../protocol/messages.js';
import type { WorkerConfig } from '../protocol/worker-config.js';
import type { AppMetricsSample } from './admin/metrics.js';
import type { MachineEvent, MachineState } from './machine/index.js';
import type { Listener } from './net/listener.js';
import type { Prober } from './net/probes.js';
import type { ListeningHandle } from './net/raw-accept.js';
import { signalProcess, WorkerProcess } from './processes.js';

/** How every worker is started, apart from its identity. */
export interface SpawnBase {
  entry: string;
  config: WorkerConfig;
  env: NodeJS.ProcessEnv;
  cwd?: string;
  nodeArgs: readonly string[];
}

export interface FleetDeps {
  clock: Clock;
  log: Logger;
  listener: Listener;
  evidence: EvidenceCollector;
  prober: Prober;
  state(): MachineState;
  dispatch(event: MachineEvent): void;
  /** Every heartbeat's RSS, for --workers auto under a memory limit. */
  onRss(id: number, rssBytes: number): void;
}

interface Member {
  readonly process: WorkerProcess;
  appMetrics: AppMetricsSample | undefined;
  isProbing: boolean;
}

type Router = { [A in WorkerMessage['act']]: (fleet: Fleet, id: number, message: Extract<WorkerMessage, { act: A }>, handle: unknown) => void };

/** What each worker message means to the primary, by verb (as node:cluster's methodMessageMapping). */
const ROUTES: Router = {
  accepted: (fleet, id, message) => fleet.deps.listener.acknowledge(id, message.id, message.connections),
  listening: (fleet, id, message, handle) => {
    if (message.error !== undefined) {
      const worker = fleet.record(id);
      fleet.deps.log.log('error', LOG_EVENTS.workerAcceptFailed, `worker ${worker?.slot ?? '?'} (pid ${worker?.pid ?? '?'}) cannot accept from the shared socket: ${message.error}`,
        { slot: worker?.slot, pid: worker?.pid, error: message.error });
    }
    fleet.deps.listener.listening(id, handle as ListeningHandle | undefined, message.error);
  },
  rejected: (fleet, id, message) => fleet.deps.listener.reclaim(id, message.id),
  ready: (fleet, id) => fleet.deps.dispatch({ type: 'WorkerReady', id }),
  sigterm: (fleet, id) => fleet.deps.dispatch({ type: 'WorkerSigtermReceived', id }),
  heartbeat: (fleet, id, message) => {
    fleet.deps.evidence.onHeartbeat(id, message.stats);
    fleet.deps.dispatch({ type: 'HeartbeatReceived', id, stats: message.stats });
    fleet.deps.onRss(id, message.stats.rssBytes);
  },
  heapSnapshot: (fleet, id, message) => fleet.deps.evidence.onReply(id, message),
  report: (fleet, id, message) => fleet.deps.evidence.onReply(id, message),
  bootError: (fleet, id, message) => fleet.deps.dispatch({ type: 'WorkerBootFailed', id, error: message.error }),
  metrics: (fleet, id, message) => {
    const worker = fleet.record(id);
    const member = fleet.member(id);
    if (worker !== undefined && member !== undefined) member.appMetrics = { slot: worker.slot, generation: worker.generation, receivedAt: fleet.deps.clock.now(), metrics: message.metrics };
  },
  crash: (fleet, id, message) => {
    fleet.deps.evidence.crashed(id, message.error);
    fleet.deps.dispatch({ type: 'WorkerCrashed', id, error: message.error });
  },
};

export class Fleet {
  private readonly members = new Map<number, Member>();
  /** Worker starts waiting for their turn of the event loop (spawnSoon). */
  private readonly spawnQueue: (() => void)[] = [];
  private isSpawnScheduled = false;

  constructor(readonly deps: FleetDeps) {}

  member(id: number): Member | undefined {
    return this.members.get(id);
  }

  record(id: number) {
    return this.deps.state().workers.find((worker) => worker.id === id);
  }

  send(id: number, message: PrimaryMessage): void {
    this.members.get(id)?.process.send(message);
  }

  appMetrics(): AppMetricsSample[] {
    const samples: AppMetricsSample[] = [];
    for (const member of this.members.values()) if (member.appMetrics !== undefined) samples.push(member.appMetrics);
    return samples;
  }

  /** Last resort on an unexpected primary exit: no worker may outlive the primary. */
  killAll(): void {
    for (const member of this.members.values()) {
      if (member.process.pid !== undefined) signalProcess(member.process.pid, 'SIGKILL');
    }
  }

  /**
   * Start workers one per turn of the event loop. A spawn blocks the primary until the child has
   * executed node (libuv waits for the exec): ~7 ms on an idle machine, 40-60 ms when the CPUs are
   * saturated, as in a crash storm where every slot boots at once. In turns of their own, the admin
   * server, IPC and the log run between two spawns, so ten restarts due together stall the primary
   * for one spawn at a time, not for ten in a row.
   */
  spawnSoon(base: SpawnBase, id: number, slot: number, generation: number, workerCount: number, withInspector: boolean): void {
    const queue = (inspectPort: number | undefined) => this.queueSpawn(() => this.spawn(base, id, slot, generation, workerCount, inspectPort));
    // The port is only reserved here; nothing listens on it until a capture sends SIGUSR1.
    if (withInspector) void freeInspectPort().then(queue, () => queue(undefined));
    else queue(undefined);
  }

  private queueSpawn(spawn: () => void): void {
    this.spawnQueue.push(spawn);
    if (this.isSpawnScheduled) return;
    this.isSpawnScheduled = true;
    setImmediate(() => this.spawnNext());
  }

  /** One probe at a time per worker; the result comes back as an event. */
  probe(id: number, path: string, timeoutMs: number): void {
    // A worker already gone is still probed: the prober finds no one to hand to and says so.
    const member = this.members.get(id);
    if (member?.isProbing === true) return;
    if (member !== undefined) member.isProbing = true;
    void this.deps.prober.probe(id, path, timeoutMs).then((result) => {
      if (member !== undefined) member.isProbing = false;
      this.deps.dispatch(result.ok ? { type: 'ProbeSucceeded', id } : { type: 'ProbeFailed', id, reason: result.reason });
    });
  }

  /** The same GET to a quarantined worker and to a peer at once; both answers come back as one event. */
  compare(id: number, peerId: number, path: string, timeoutMs: number): void {
    const { prober, dispatch } = this.deps;
    void Promise.all([prober.ask(id, path, timeoutMs), prober.ask(peerId, path, timeoutMs)]).then(([suspect, peer]) => {
      dispatch({ type: 'ComparisonProbed', id, peerId, suspect, peer });
    });
  }

  private spawnNext(): void {
    this.isSpawnScheduled = false;
    this.spawnQueue.shift()?.();
    if (this.spawnQueue.length === 0 || this.isSpawnScheduled) return;
    this.isSpawnScheduled = true;
    setImmediate(() => this.spawnNext());
  }

  private spawn(base: SpawnBase, id: number, slot: number, generation: number, workerCount: number, inspectPort: number | undefined): void {
    const { dispatch, log, listener, evidence } = this.deps;
    let pid = 0;
    if (inspectPort !== undefined) evidence.assignInspectPort(id, inspectPort);
    const child = new WorkerProcess(
      {
        entry: base.entry, slot, generation, workerCount, config: base.config, maxLineBytes: MAX_LINE_BYTES, env: base.env,
        ...(base.cwd === undefined ? {} : { cwd: base.cwd }),
        execArgv: [...base.nodeArgs, ...(inspectPort === undefined ? [] : [`--inspect-port=127.0.0.1:${inspectPort}`])],
      },
      {
        onSpawn: (spawnedPid) => {
          pid = spawnedPid;
          dispatch({ type: 'WorkerSpawned', id, pid: spawnedPid });
        },
        onSpawnError: (error) => dispatch({ type: 'WorkerSpawnFailed', id, error }),
        onMessage: (message, handle) => (ROUTES[message.act] as (fleet: Fleet, id: number, message: WorkerMessage, handle: unknown) => void)(this, id, message, handle),
        onLine: (stream, line, partial) => log.workerLine({ slot, pid, generation, partial }, pid, stream, line),
        onExit: (code, signal) => {
          this.remove(id);
          dispatch({ type: 'WorkerExited', id, code, signal });
        },
      },
    );
    this.members.set(id, { process: child, appMetrics: undefined, isProbing: false });
    listener.addWorker(id, {
      send: (connectionId, expiresAt, handle, onSent) => child.send({ warden: 1, act: 'conn', id: connectionId, expiresAt }, handle, onSent),
      share: (listening, returnCopy) => child.send({ warden: 1, act: 'listen', returnCopy }, listening),
      unshare: () => child.send({ warden: 1, act: 'unlisten' }),
    }, slot);
  }

  /** The one cleanup when a worker exits: everything the shell kept for it goes. */
  private remove(id: number): void {
    this.members.delete(id);
    this.deps.evidence.forget(id);
    this.deps.listener.removeWorker(id);
  }
}
