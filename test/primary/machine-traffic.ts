// A request-level model of the workers' traffic for the machine's scenario tests: clients send
// requests, a route picks the worker (new connection: one in rotation; keep-alive: the same one), each
// request's answer time is known when it is sent (never, for a poisoned worker), and every heartbeat
// carries the counters the worker's request tracking would report. Drives a Harness with plain numbers.

import type { Effect, MachineEvent } from '../../src/primary/machine/index.js';
import { isInRotation } from '../../src/primary/machine/index.js';
import type { HeartbeatStats } from '../../src/protocol/messages.js';
import { Harness, stats } from './machine-harness.js';

interface Request {
  worker: number;
  at: number;
  /** When the app sends the response headers; Infinity: never. */
  answerAt: number;
}

export interface Client {
  /** Keep-alive: stays on its worker while that worker lives; otherwise a new connection per request. */
  keepAlive?: boolean;
  /** The client gives up after this long and sends again (on a new connection): the old request stays unanswered. */
  timeoutMs?: number;
  thinkMs?: number;
  /** Milliseconds this request takes to answer, on a worker that is not poisoned. */
  duration: (at: number, n: number) => number;
}

/** Which in-rotation worker a new connection goes to: the kernel's choice, stated per scenario. */
export type Route = (inRotation: readonly number[], at: number) => number;
export const spread: Route = (ids, at) => ids[Math.floor(at / 50) % ids.length] as number;
/** At light load the kernel wakes the same (most recent, or idle) waiter: every connection on one worker. */
export const concentrate = (prefer: () => number | undefined): Route => (ids) => {
  const preferred = prefer();
  return preferred !== undefined && ids.includes(preferred) ? preferred : (ids[0] as number);
};

const RECENT_WINDOW_MS = 90_000;

export class Traffic {
  readonly h: Harness;
  readonly requests: Request[] = [];
  /** Workers whose every request from then on is never answered. */
  readonly poisonedAt = new Map<number, number>();
  private clients: { client: Client; nextAt: number; worker: number | undefined; n: number }[] = [];
  private busyUntil = new Map<number, number>();
  /** When set, each worker answers one request at a time taking this long of CPU (queued behind each other). */
  cpuMs: number | undefined;
  readonly logs: { at: number; event: string; id: number | undefined; msg: string }[] = [];
  private readyAt = new Map<number, number>();
  private pids = new Map<number, number>();
  private scheduled: { at: number; duration: number; worker: number | undefined }[] = [];
  /** How long a comparison probe's GET takes on a worker that is not poisoned (default: a route that answers at once). */
  probeMs: (worker: number, at: number) => number = () => 5;
  /** Comparison probes under way: their one event, due when both sides answered or ran out of time. */
  private comparisons: { at: number; event: MachineEvent }[] = [];

  /** --compare-probe is on, as by default, unless the config says otherwise. */
  constructor(config: ConstructorParameters<typeof Harness>[0] = {}, readonly route: Route = spread) {
    this.h = new Harness({ compareProbeEnabled: true, ...config });
    this.h.boot();
  }

  ids(): number[] {
    return this.h.state.workers.filter((worker) => isInRotation(this.h.state, worker)).map((worker) => worker.id);
  }

  addClients(count: number, client: Client, startAt = this.h.now): void {
    for (let i = 0; i < count; i++) this.clients.push({ client, nextAt: startAt + i * 7, worker: undefined, n: 0 });
  }

  /** One request at `at` (open loop: a burst, a request a second), routed when it is sent. */
  send(at: number, duration: number, worker?: number): void {
    this.scheduled.push({ at, duration, worker });
  }

  poison(id: number, at = this.h.now): void {
    this.poisonedAt.set(id, at);
  }

  private place(worker: number, at: number, duration: number): Request {
    const poisoned = this.poisonedAt.get(worker);
    let answerAt = poisoned !== undefined && at >= poisoned ? Infinity : at + duration;
    if (this.cpuMs !== undefined && answerAt !== Infinity) {
      answerAt = Math.max(at, this.busyUntil.get(worker) ?? 0) + this.cpuMs;
      this.busyUntil.set(worker, answerAt);
    }
    const request = { worker, at, answerAt };
    this.requests.push(request);
    return request;
  }

  statsOf(worker: number, t: number, extra: Partial<HeartbeatStats> = {}): HeartbeatStats {
    let lastAnswerAt = -Infinity;
    let served = 0;
    let slowest = 0;
    let recent = 0;
    for (const request of this.requests) {
      if (request.worker !== worker || request.at > t || request.answerAt > t) continue;
      served += 1;
      lastAnswerAt = Math.max(lastAnswerAt, request.answerAt);
      if (t - request.answerAt <= RECENT_WINDOW_MS) {
        recent += 1;
        slowest = Math.max(slowest, request.answerAt - request.at);
      }
    }
    let unanswered = 0;
    let oldest = Infinity;
    let waiting = 0;
    for (const request of this.requests) {
      if (request.worker !== worker || request.at > t || request.answerAt <= t) continue;
      waiting += 1;
      if (request.at > lastAnswerAt) {
        unanswered += 1;
        oldest = Math.min(oldest, request.at);
      }
    }
    return stats({
      served, waiting, inFlight: waiting, unansweredCount: unanswered, unansweredForMs: unanswered === 0 ? 0 : t - oldest,
      lastFinishedAgoMs: lastAnswerAt === -Infinity ? -1 : t - lastAnswerAt, slowestRecentMs: slowest, answeredRecent: recent, ...extra,
    });
  }

  /** Run to `until`: clients send, workers beat every 250 ms, Tick every 50 ms, replacements boot in 300 ms. */
  run(until: number): void {
    for (let t = this.h.now + 50; t <= until; t += 50) {
      for (const open of this.scheduled) {
        if (open.at > t - 50 && open.at <= t) {
          const ids = this.ids();
          if (open.worker !== undefined || ids.length > 0) this.place(open.worker ?? this.route(ids, open.at), open.at, open.duration);
        }
      }
      for (const entry of this.clients) {
        if (entry.nextAt > t) continue;
        const alive = entry.worker !== undefined && this.h.state.workers.some((w) => w.id === entry.worker && w.state === 'ready');
        const ids = this.ids();
        const worker = entry.client.keepAlive && alive ? (entry.worker as number) : ids.length === 0 ? undefined : this.route(ids, t);
        if (worker === undefined) continue;
        entry.worker = worker;
        const request = this.place(worker, t, entry.client.duration(t, entry.n++));
        const timeout = entry.client.timeoutMs ?? Infinity;
        if (request.answerAt - t > timeout) entry.worker = undefined; // gives up, reconnects
        entry.nextAt = Math.min(request.answerAt, t + timeout) + (entry.client.thinkMs ?? 0);
      }
      for (const due of this.comparisons.filter((comparison) => comparison.at <= t)) {
        this.comparisons.splice(this.comparisons.indexOf(due), 1);
        this.collect(this.h.send(due.event, t));
      }
      for (const [id, readyAt] of this.readyAt) {
        if (readyAt > t) continue;
        this.readyAt.delete(id);
        this.collect(this.h.send({ type: 'WorkerReady', id }, t));
      }
      if (t % 250 === 0) {
        for (const worker of [...this.h.state.workers]) {
          if (worker.state === 'ready' || worker.state === 'draining') this.collect(this.h.send({ type: 'HeartbeatReceived', id: worker.id, stats: this.statsOf(worker.id, t) }, t));
        }
      }
      this.collect(this.h.send({ type: 'Tick' }, t));
    }
  }

  private collect(effects: Effect[]): void {
    for (const worker of this.h.state.workers) if (worker.pid !== undefined) this.pids.set(worker.pid, worker.id);
    for (const effect of effects) {
      if (effect.type === 'Log') {
        const pid = effect.fields.pid;
        this.logs.push({ at: this.h.now, event: effect.event, id: typeof pid === 'number' ? this.pids.get(pid) : undefined, msg: effect.msg });
      }
      if (effect.type === 'CompareProbe') this.compare(effect);
      if (effect.type === 'Spawn') {
        this.h.send({ type: 'WorkerSpawned', id: effect.id, pid: 1000 + effect.id });
        this.readyAt.set(effect.id, this.h.now + 300);
      }
    }
  }

  /** Both GETs are requests like any other on their workers (the worker's tracking counts them). */
  private compare(effect: Extract<Effect, { type: 'CompareProbe' }>): void {
    const t = this.h.now;
    const [suspect, peer] = [effect.id, effect.peerId].map((worker) => this.place(worker, t, this.probeMs(worker, t))) as [Request, Request];
    const answer = (request: Request) => request.answerAt - t <= effect.timeoutMs
      ? { isAnswered: true as const, status: 200 } : { isAnswered: false as const, isTimedOut: true, reason: `no answer within ${effect.timeoutMs}ms` };
    const doneAt = Math.max(...[suspect, peer].map((request) => Math.min(request.answerAt, t + effect.timeoutMs)));
    this.comparisons.push({ at: doneAt, event: { type: 'ComparisonProbed', id: effect.id, peerId: effect.peerId, suspect: answer(suspect), peer: answer(peer) } });
  }

  /** Times of the log lines of `event` (about worker `id`, when given). */
  at(event: string, id?: number): number[] {
    return this.logs.filter((line) => line.event === event && (id === undefined || line.id === id)).map((line) => line.at);
  }
}

