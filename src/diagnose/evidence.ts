// Gathers the evidence of an incident when the machine asks for it: a stalled worker's stack and a
// CPU profile of about a second through its inspector, a stuck worker's requests in flight and the
// same profile (its stack instead when no profile can be had), a recycled worker's memory trend and heap
// snapshot, a crashed worker's error. Keeps the records (IncidentLog) and logs each one once.
// Acting code, driven by supervisor.ts; it decides nothing about a worker's fate.

import type { Clock } from '../clock.js';
import { errnoCode } from '../errors.js';
import { LOG_EVENTS } from '../log/events.js';
import type { Logger } from '../log/logger.js';
import type { HeapSnapshotResult, HeartbeatStats, PrimaryMessage, RequestsReport, SerializedError } from '../protocol/messages.js';
import { describeIncident, IncidentLog, type Incident, type IncidentKind } from './incidents.js';
import { captureProfile, saveProfile } from './profile-capture.js';
import { captureStack, formatStack } from './stack-capture.js';
import type { ProfileSummary } from '../protocol/admin.js';

/** A heap snapshot needs about the heap's size again in memory: skip it above this. */
const HEAP_SNAPSHOT_LIMIT_BYTES = 1024 * 1024 * 1024;
/** How long a worker gets to list its requests in flight. */
const REPORT_TIMEOUT_MS = 1000;

export interface WorkerIdentity {
  slot: number;
  generation: number;
  pid: number | undefined;
}

export interface EvidenceSettings {
  captureTimeoutMs: number;
  /** How long the CPU profile before a kill runs (0: no profile); the machine's deadline covers it. */
  profileMs: number;
  /** Where profiles are saved as .cpuprofile (none when undefined), and the most that directory may hold. */
  profileDir: string | undefined;
  profileDirMaxBytes: number;
  maxMemoryBytes: number;
  heapSnapshotDir: string | undefined;
  gracefulTimeoutMs: number;
}

interface Sample {
  at: number;
  rssBytes: number;
  heapUsedBytes: number;
}

type Reply = { act: 'report'; report: RequestsReport } | { act: 'heapSnapshot'; result: HeapSnapshotResult };

export class EvidenceCollector {
  readonly incidents = new IncidentLog();
  /** Inspector port of each worker (--capture-stacks): opened only by SIGUSR1, right before a kill. */
  private readonly inspectPorts = new Map<number, number>();
  /** RSS and heap of each worker, a sample a second for the last minute. */
  private readonly samples = new Map<number, Sample[]>();
  private readonly waiting = new Map<string, (reply: Reply) => void>();

  constructor(
    private readonly settings: EvidenceSettings,
    private readonly deps: {
      clock: Clock;
      log: Logger;
      identify: (id: number) => WorkerIdentity | undefined;
      send: (id: number, message: PrimaryMessage) => void;
    },
  ) {}

  assignInspectPort(id: number, port: number): void {
    this.inspectPorts.set(id, port);
  }

  inspectPort(id: number): number | undefined {
    return this.inspectPorts.get(id);
  }

  /** The worker is gone: drop what was kept for it (its incidents stay, by slot). */
  forget(id: number): void {
    this.inspectPorts.delete(id);
    this.samples.delete(id);
    for (const key of this.waiting.keys()) if (key.startsWith(`${id}:`)) this.waiting.delete(key);
  }

  onHeartbeat(id: number, stats: HeartbeatStats): void {
    const samples = this.samples.get(id) ?? [];
    const now = this.deps.clock.now();
    const last = samples[samples.length - 1];
    if (last !== undefined && now - last.at < 1000) return;
    samples.push({ at: now, rssBytes: stats.rssBytes, heapUsedBytes: stats.heapUsedBytes });
    if (samples.length > 60) samples.shift();
    this.samples.set(id, samples);
  }

  onReply(id: number, reply: Reply): void {
    this.waiting.get(`${id}:${reply.act}`)?.(reply);
  }

  /** The stalled worker's stack; resolves when it is recorded, so the kill can follow. */
  async stalled(id: number, pid: number, slot: number, reason: string): Promise<void> {
    const port = this.inspectPorts.get(id);
    const capture = port === undefined
      ? { ok: false as const, reason: 'no inspector port was reserved for this worker', tookMs: 0 }
      : await captureStack(pid, port, { timeoutMs: Math.max(200, this.settings.captureTimeoutMs - 200) });
    const evidence: Partial<Incident> = capture.ok ? { stack: formatStack(capture.frames) } : { noStack: `no stack: ${capture.reason}` };
    // The stack says where the loop is now; the profile what it spent the last second on. A loop in a
    // long native call answers neither, and the incident names both reasons.
    if (this.settings.profileMs > 0 && !capture.ok) {
      // What kept the stack out (a native call, SIGSTOP) keeps the profiler out too: no second wait.
      evidence.noProfile = 'no profile: the inspector gave no stack either';
    } else if (port !== undefined && this.settings.profileMs > 0) {
      const profile = await this.profile(pid, port, slot, this.settings.profileMs);
      if ('top' in profile) evidence.profile = profile;
      else evidence.noProfile = `no profile: ${profile.reason}`;
    }
    this.record(id, 'stalled', reason, evidence, { log: true, slot, pid });
  }

  /** A CPU profile of `durationMs` through the worker's inspector, saved under --profile-dir if set. */
  async profile(pid: number, port: number, slot: number, durationMs: number): Promise<ProfileSummary | { reason: string }> {
    const capture = await captureProfile(pid, port, { durationMs, timeoutMs: Math.max(200, this.settings.captureTimeoutMs - 200) });
    if (!capture.ok) return { reason: capture.reason };
    const summary: ProfileSummary = { durationMs, top: capture.top };
    const dir = this.settings.profileDir;
    if (dir === undefined) return summary;
    try {
      const name = `worker-${slot}-${pid}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      summary.path = saveProfile(dir, name, capture.profile, this.settings.profileDirMaxBytes).path;
    } catch (error) {
      // A full disk or a directory warden may not write: the top functions still go in the incident.
      const code = errnoCode(error);
      if (code === undefined) throw error;
      summary.notSaved = `could not write to ${dir} (${code})`;
    }
    return summary;
  }

  async requestsInFlight(id: number, slot: number, kind: 'stuck' | 'unhealthy', reason: string): Promise<void> {
    const pid = this.deps.identify(id)?.pid;
    // A stuck worker's loop turns: what it spends its CPU on is the profile, taken while it drains.
    const profiling = kind === 'stuck' ? this.stuckProfile(id, pid, slot) : Promise.resolve({});
    const [reply, profiled] = await Promise.all([this.ask(id, { warden: 1, act: 'report' }, REPORT_TIMEOUT_MS), profiling]);
    const requests = reply?.act === 'report' ? reply.report : undefined;
    this.record(id, kind, reason, { ...(requests === undefined ? {} : { requests }), ...profiled }, { log: true, slot, ...(pid === undefined ? {} : { pid }) });
  }

  /**
   * The stuck worker's CPU profile, started when its drain begins, so it ends before the kill at
   * --graceful-timeout (it runs at most half of that); the stack when no profile can be had.
   */
  private async stuckProfile(id: number, pid: number | undefined, slot: number): Promise<Partial<Incident>> {
    if (this.settings.profileMs <= 0) return {};
    const port = this.inspectPorts.get(id);
    if (pid === undefined || port === undefined) {
      return { noProfile: 'no profile: no inspector port was reserved for this worker (--capture-stacks off)', noStack: 'no stack: no inspector port was reserved for this worker' };
    }
    const durationMs = Math.min(this.settings.profileMs, Math.max(100, Math.floor(this.settings.gracefulTimeoutMs / 2)));
    const profile = await this.profile(pid, port, slot, durationMs);
    if ('top' in profile) return { profile };
    const capture = await captureStack(pid, port, { timeoutMs: Math.max(200, this.settings.captureTimeoutMs - 200) });
    return {
      noProfile: `no profile: ${profile.reason}; ${capture.ok ? 'its stack was taken instead' : 'no stack either'}`,
      ...(capture.ok ? { stack: formatStack(capture.frames) } : { noStack: `no stack: ${capture.reason}` }),
    };
  }

  async memory(id: number, slot: number, reason: string): Promise<void> {
    const now = this.deps.clock.now();
    // Every 10th second of the last minute, and the latest: enough to see the trend.
    const all = this.samples.get(id) ?? [];
    const samples = all.filter((_, index) => index % 10 === 0 || index === all.length - 1)
      .map((sample) => ({ atMs: Math.round(sample.at - now), rssBytes: sample.rssBytes, heapUsedBytes: sample.heapUsedBytes }));
    const evidence: Partial<Incident> = { memory: { limitBytes: this.settings.maxMemoryBytes, samples } };
    const dir = this.settings.heapSnapshotDir;
    if (dir !== undefined) {
      // Sent before the drain message (IPC keeps order), so the snapshot shows the heap as it was.
      const reply = await this.ask(id, { warden: 1, act: 'heapSnapshot', dir, maxHeapBytes: HEAP_SNAPSHOT_LIMIT_BYTES }, this.settings.gracefulTimeoutMs);
      evidence.heapSnapshot = reply?.act === 'heapSnapshot' ? reply.result : { skipped: 'the worker did not answer before the graceful timeout' };
    }
    this.record(id, 'memory', reason, evidence, { log: true, slot });
  }

  /** The machine logs the crash itself; this keeps the record. */
  crashed(id: number, error: SerializedError): void {
    this.record(id, 'crashed', error.message, { error }, { log: false });
  }

  private ask(id: number, message: PrimaryMessage, timeoutMs: number): Promise<Reply | undefined> {
    const key = `${id}:${message.act}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(key, (reply) => {
        clearTimeout(timer);
        this.waiting.delete(key);
        resolve(reply);
      });
      this.deps.send(id, message);
    });
  }

  private record(id: number, kind: IncidentKind, reason: string, evidence: Partial<Incident>, how: { log: boolean; slot?: number; pid?: number }): void {
    const who = this.deps.identify(id);
    const incident: Incident = {
      at: new Date().toISOString(), slot: who?.slot ?? how.slot ?? 0, generation: who?.generation ?? 0,
      pid: who?.pid ?? how.pid ?? null, kind, reason, ...evidence,
    };
    this.incidents.record(incident);
    if (!how.log) return;
    const { msg, block } = describeIncident(incident);
    this.deps.log.log('error', LOG_EVENTS.workerDiagnosis, msg, { slot: incident.slot, generation: incident.generation, pid: incident.pid, incident, block });
  }
}
