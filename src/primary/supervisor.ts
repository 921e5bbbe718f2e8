// The thin shell around the machine: one event queue, drained in order; each event goes through
// step(), and the effects it returns are carried out here, their results coming back as new events.
// Per-worker state lives in fleet.ts, connections in net/, what the admin port answers in admin/;
// the parts built in parts.ts, binding in ports.ts, the timers in schedule.ts, the control socket's requests in control-requests.ts.

import type { Clock } from '../clock.js';
import { requiredReady } from '../config/resolve.js';
import { ControlServer } from '../control/server.js';
import type { Logger } from '../log/logger.js';
import { domainEvent, type DomainObserver } from '../protocol/events.js';
import { readyz, type PrimaryInfo } from './admin/report.js';
import { workersBody } from './admin/routes.js';
import { answerControl, type ControlTarget } from './control-requests.js';
import type { SpawnBase } from './fleet.js';
import { initialState, rotationOf, step, type Effect, type HaltInfo, type MachineEvent, type MachineState } from './machine/index.js';
import { buildParts, type Parts } from './parts.js';
import { bindPorts, type BoundPorts } from './ports.js';
import { probeParentDeathLauncher, signalProcess } from './processes.js';
import { PendingRequests, type LifecycleOutcome } from './requests.js';
import { startSchedule, type Schedule } from './schedule.js';
import { machineConfig, spawnBase, type SupervisorSettings } from './settings.js';
import { SystemdLink } from './systemd-link.js';

export { HEARTBEAT_INTERVAL_MS, machineConfig, type SupervisorSettings } from './settings.js';
export type { TimelineEntry } from './admin/timeline.js';
export type { LifecycleOutcome } from './requests.js';

/** Called with every log event the machine emits, after it is logged: the programmatic API's events. */
export type SupervisorObserver = DomainObserver;

export interface RunResult {
  code: number;
  halt: HaltInfo | undefined;
}

/** The addresses bound (with --uds: host '' and port 0, and the socket's path), and the end. */
export interface Started extends Omit<BoundPorts, 'service'> {
  /** Resolves when the supervisor has stopped every worker and wants the process to exit. */
  done: Promise<RunResult>;
}

export class Supervisor {
  private state: MachineState;
  private readonly queue: MachineEvent[] = [];
  private isProcessing = false;
  /** The listener, the prober, the evidence, the fleet, the admin server (parts.ts). */
  private readonly parts: Parts;
  /** Set when the listener starts closing: it first takes the connections still queued in the kernel. */
  private listenerClosed: Promise<void> | undefined;
  private readonly control: ControlServer;
  private schedule: Schedule | undefined;
  private info: PrimaryInfo | undefined;
  private controlPath: string | undefined;
  private spawnBase: SpawnBase | undefined;
  /** sd_notify, when systemd started warden with $NOTIFY_SOCKET (os/sd-notify.ts). */
  private systemd: SystemdLink | undefined;
  private finish: ((result: RunResult) => void) | undefined;
  private readonly requests = new PendingRequests();

  constructor(private readonly settings: SupervisorSettings, private readonly clock: Clock, private readonly log: Logger, private readonly observe?: SupervisorObserver) {
    this.state = initialState(machineConfig(settings.options, settings.moduleLabel, settings.appArgs, settings.autoscale?.caps), clock.now());
    this.parts = buildParts(settings, clock, log, {
      state: () => this.state, dispatch: (event) => this.dispatch(event), info: () => this.info, controlPath: () => this.controlPath, requiredReady: () => this.requiredReady(),
    });
    const controlTarget: ControlTarget = {
      reload: (progress) => this.reload(progress), scale: (target, progress) => this.scale(target, progress),
      status: () => workersBody(this.parts.adminSource), state: () => this.state, evidence: this.parts.evidence,
    };
    this.control = new ControlServer((request, progress) => answerControl(controlTarget, request, progress));
  }

  /** Bind the service and admin ports (failing fast with a clear error), then start the workers. */
  async start(): Promise<Started> {
    const { settings } = this;
    const { listener, prober } = this.parts;
    const options = settings.options;
    // Found while the ports are bound, so that the first spawn does not wait on it.
    const launcherFound = probeParentDeathLauncher();
    const bound = await bindPorts(options, { listener, admin: this.parts.admin, control: this.control }, this.log);
    this.controlPath = bound.control;
    if (options.probePath !== undefined || options.compareProbe) await prober.start();
    this.info = { pid: process.pid, version: settings.version, module: settings.moduleLabel, listen: bound.listen, admin: bound.admin, startedAt: this.clock.now(), requiredReady: this.requiredReady() };
    this.spawnBase = spawnBase(settings, bound.service);
    const done = new Promise<RunResult>((resolve) => (this.finish = resolve));
    this.systemd = new SystemdLink(this.clock, this.log);
    this.schedule = startSchedule({
      clock: this.clock, log: this.log, options, modulePath: settings.modulePath, state: () => this.state, dispatch: (event) => this.dispatch(event),
      sweep: () => listener.sweep(), hasConnectionWork: () => listener.hasConnectionWork, probe: (id, path, timeoutMs) => this.parts.fleet.probe(id, path, timeoutMs), sampleLoad: () => this.parts.sampleLoad(),
    });
    listener.onConnectionWork = () => this.schedule?.replan();
    await launcherFound;
    this.dispatch({ type: 'Tick' });
    return { listen: bound.listen, admin: bound.admin, control: bound.control, done };
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
      this.parts.listener.setRotation(rotation);
      if (this.systemd?.isActive === true) {
        this.systemd.update({
          phase: this.state.phase, isReady: readyz(this.state, this.requiredReady()).status === 200,
          reloadingTo: this.state.reload?.generation, inRotation: rotation.length, targetWorkers: this.state.targetWorkers,
        });
      }
      this.schedule?.replan();
    } finally {
      this.isProcessing = false;
    }
  }

  get snapshot(): MachineState {
    return this.state;
  }

  /** Last resort on an unexpected primary exit: no worker may outlive the primary. */
  killAll(): void {
    this.parts.fleet.killAll();
    this.parts.listener.destroyAll();
  }

  private perform(effect: Effect): void {
    switch (effect.type) {
      case 'Spawn':
        this.parts.fleet.spawnSoon(this.spawnBase as SpawnBase, effect.id, effect.slot, effect.generation, effect.workerCount, this.settings.options.captureStacks);
        return;
      case 'Probe':
        if (this.settings.options.probePath !== undefined) this.parts.fleet.probe(effect.id, this.settings.options.probePath, this.settings.options.probeTimeoutMs);
        return;
      case 'CompareProbe':
        this.parts.fleet.compare(effect.id, effect.peerId, this.settings.options.probePath ?? '/', effect.timeoutMs);
        return;
      case 'Notify':
        this.requests.notify(effect);
        return;
      case 'CaptureStack':
        void this.parts.evidence.stalled(effect.id, effect.pid, effect.slot, effect.reason).then(() => this.dispatch({ type: 'StackCaptured', id: effect.id }));
        return;
      case 'ReportRequests':
        void this.parts.evidence.requestsInFlight(effect.id, effect.slot, effect.reason.startsWith('stuck') ? 'stuck' : 'unhealthy', effect.reason);
        return;
      case 'ReportMemory':
        void this.parts.evidence.memory(effect.id, effect.slot, effect.reason);
        return;
      case 'Signal':
        signalProcess(effect.pid, effect.signal);
        return;
      case 'Drain': {
        // While the listener closes, the connections it still takes go to these workers: they drain
        // (and may exit) only once it is closed, so none of those connections finds them gone.
        const drain = () => this.parts.fleet.send(effect.id, { warden: 1, act: 'drain', reason: effect.reason });
        if (this.listenerClosed === undefined) drain();
        else void this.listenerClosed.then(drain);
        return;
      }
      case 'CloseListener':
        this.listenerClosed ??= this.parts.listener.close().catch(() => undefined);
        void this.parts.prober.close();
        this.control.stopListening();
        return;
      case 'Log':
        this.log.log(effect.level, effect.event, effect.msg, effect.fields);
        this.parts.timeline.add(this.clock.now(), effect.level, effect.event, effect.msg, effect.fields);
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
    this.schedule?.cancel();
    this.killAll();
    this.requests.abandonAll();
    await Promise.all([this.parts.listener.close(), this.parts.admin.close(), this.parts.prober.close(), this.control.close()]);
    // STOPPING=1 (sent when the stop began) reaches systemd before the main process is gone.
    await this.systemd?.close();
    this.finish?.(result);
  }

  private requiredReady(): number {
    return requiredReady(this.settings.options, this.state.targetWorkers);
  }
}
