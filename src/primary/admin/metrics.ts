// Every metric warden serves on GET /metrics, declared in this one file, built with prom-client.
// Values are read at scrape time from the supervisor's memory (state, heartbeat stats, the app's
// metrics last pushed by each worker): a scrape never asks a worker anything, so a frozen worker
// cannot slow it. Per-worker series carry `slot` and `generation` and exist only while the worker
// does, so cardinality stays bounded by the live workers however often they restart.

import { AUTOSCALE_REASONS, autoscaleCeiling, decisionKey, fleetUtilization } from '../machine/autoscale.js';
import { isSaturated } from '../machine/saturation.js';
import { collectDefaultMetrics, Counter, Gauge, Registry, type MetricValue } from 'prom-client';
import { displayState } from './report.js';
import { QUARANTINE_OUTCOMES, REPLACEMENT_REASONS, type MachineState, type WorkerRecord } from '../machine/index.js';
import { DISPLAY_STATES, type DisplayState } from '../../protocol/admin.js';
import { DURATION_BUCKETS_S, type AppMetric } from '../../protocol/messages.js';
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'none'] as const;

export const METRIC = {
  workerInfo: 'warden_worker_info',
  workerState: 'warden_worker_state',
  workerRequests: 'warden_worker_requests_total',
  workerRequestDuration: 'warden_worker_request_duration_seconds',
  workerInFlight: 'warden_worker_requests_in_flight',
  workerLoopDelay: 'warden_worker_event_loop_delay_seconds',
  workerLoopUtilization: 'warden_worker_event_loop_utilization',
  workerSaturated: 'warden_worker_saturated',
  fleetLoopUtilization: 'warden_fleet_event_loop_utilization',
  workerRss: 'warden_worker_resident_memory_bytes',
  workerHeap: 'warden_worker_heap_used_bytes',
  workerHeartbeatAge: 'warden_worker_heartbeat_age_seconds',
  workerConnections: 'warden_worker_connections',
  workerUpgraded: 'warden_worker_upgraded_connections',
  workerRestarts: 'warden_worker_restarts_total',
  replacements: 'warden_worker_replacements_total',
  workerQuarantined: 'warden_worker_quarantined',
  quarantines: 'warden_worker_quarantines_total',
  quarantineEnds: 'warden_worker_quarantine_ends_total',
  workers: 'warden_workers',
  workersTarget: 'warden_workers_target',
  connectionsAccepted: 'warden_connections_accepted_total',
  connectionsHeld: 'warden_connections_held',
  connectionsDropped: 'warden_connections_dropped_total',
  acceptQueue: 'warden_accept_queue_length',
  reloads: 'warden_reloads_total',
  autoscaleDecisions: 'warden_autoscale_decisions_total',
  autoscaleMin: 'warden_autoscale_min_workers',
  autoscaleMax: 'warden_autoscale_max_workers',
  autoscaleCeiling: 'warden_autoscale_ceiling_workers',
  logDroppedLines: 'warden_log_dropped_lines_total',
  appMetricsAge: 'warden_app_metrics_age_seconds',
  primaryPrefix: 'warden_primary_',
} as const;

/** The app's own prom-client metrics, as one worker last sent them (getMetricsAsJSON). */
export interface AppMetricsSample {
  slot: number;
  generation: number;
  receivedAt: number;
  metrics: AppMetric[];
}

export interface MetricsSource {
  state(): MachineState;
  now(): number;
  connections(): { accepted: number; held: number; dropped: number };
  logDrops(): { stdout: number; stderr: number };
  appMetrics(): AppMetricsSample[];
  /** Connections waiting in the kernel's accept queue of the service socket; null when unknown (not Linux, a unix socket). */
  acceptQueue(): number | null;
}

type Labels = Record<string, string | number>;

function workerLabels(worker: WorkerRecord): Labels {
  return { slot: worker.slot, generation: worker.generation };
}

export class WardenMetrics {
  private readonly registry = new Registry();

  constructor(private readonly source: MetricsSource) {
    collectDefaultMetrics({ register: this.registry, prefix: METRIC.primaryPrefix });
    this.perWorker();
    this.supervisor();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Prometheus text exposition: warden's metrics, then the app's with `slot` and `generation` added. */
  async render(): Promise<string> {
    const own = await this.registry.metrics();
    return `${own}${renderAppMetrics(this.source.appMetrics(), new Set(this.registry.getMetricsAsArray().map((metric) => metric.name)))}`;
  }

  private live(): WorkerRecord[] {
    return this.source.state().workers;
  }

  private perWorkerGauge(name: string, help: string, value: (worker: WorkerRecord, now: number) => number | undefined): void {
    const live = () => this.live();
    const now = () => this.source.now();
    new Gauge({
      name, help, labelNames: ['slot', 'generation'], registers: [this.registry],
      collect() {
        this.reset();
        const at = now();
        for (const worker of live()) {
          const v = value(worker, at);
          if (v !== undefined) this.set(workerLabels(worker), v);
        }
      },
    });
  }

  private perWorker(): void {
    const live = () => this.live();
    new Gauge({
      name: METRIC.workerInfo, help: 'One series per live worker, mapping slot and generation to its pid', labelNames: ['slot', 'generation', 'pid'], registers: [this.registry],
      collect() {
        this.reset();
        for (const worker of live()) if (worker.pid !== undefined) this.set({ ...workerLabels(worker), pid: worker.pid }, 1);
      },
    });
    new Gauge({
      name: METRIC.workerState, help: 'Each live worker\'s state as /workers shows it: 1 for the current one', labelNames: ['slot', 'generation', 'state'], registers: [this.registry],
      collect() {
        this.reset();
        for (const worker of live()) {
          const current = displayState(worker);
          for (const state of DISPLAY_STATES) this.set({ ...workerLabels(worker), state }, state === current ? 1 : 0);
        }
      },
    });
    new Counter({
      name: METRIC.workerRequests, help: 'Requests a live worker finished, by status class ("none": ended before a status was sent)', labelNames: ['slot', 'generation', 'status_class'], registers: [this.registry],
      collect() {
        this.reset();
        for (const worker of live()) {
          const counts = worker.stats?.http?.byClass;
          if (counts === undefined) continue;
          STATUS_CLASSES.forEach((statusClass, index) => this.inc({ ...workerLabels(worker), status_class: statusClass }, counts[index] ?? 0));
        }
      },
    });
    this.registry.registerMetric(durationHistogram(live) as unknown as Counter);
    this.perWorkerGauge(METRIC.workerQuarantined, 'A live worker quarantined: 1 while it is suspect and out of rotation (still serving what it holds), else 0', (worker) => displayState(worker) === 'quarantined' ? 1 : 0);
    this.perWorkerGauge(METRIC.workerInFlight, 'Requests in flight on a live worker', (worker) => worker.stats?.inFlight);
    this.perWorkerGauge(METRIC.workerLoopDelay, 'Event-loop delay of a live worker (p99 over its last heartbeat interval)', (worker) => worker.stats === undefined ? undefined : worker.stats.loopDelayMs / 1000);
    this.perWorkerGauge(METRIC.workerLoopUtilization, 'Event-loop utilisation of a live worker over its last heartbeat interval, 0..1', (worker) => worker.stats?.eventLoopUtilization);
    this.perWorkerGauge(METRIC.workerSaturated, 'A live worker whose ELU stayed near 1 for a sustained time while its heartbeats kept coming: 1, else 0 (busy, not sick)', (worker, now) => worker.state === 'ready' && isSaturated(worker.busySince, now) ? 1 : 0);
    this.perWorkerGauge(METRIC.workerRss, 'Resident memory of a live worker', (worker) => worker.stats?.rssBytes);
    this.perWorkerGauge(METRIC.workerHeap, 'V8 heap used by a live worker', (worker) => worker.stats?.heapUsedBytes);
    this.perWorkerGauge(METRIC.workerConnections, 'Open client connections on a live worker', (worker) => worker.stats?.connections);
    this.perWorkerGauge(METRIC.workerUpgraded, 'Upgraded connections (WebSockets) open on a live worker', (worker) => worker.stats?.upgraded);
    this.perWorkerGauge(METRIC.workerHeartbeatAge, 'Time since a live worker\'s last heartbeat', (worker, now) => worker.lastBeatAt === undefined ? undefined : Math.max(0, now - worker.lastBeatAt) / 1000);
    const appMetrics = () => this.source.appMetrics();
    const now = () => this.source.now();
    new Gauge({
      name: METRIC.appMetricsAge, help: 'Age of the app metrics last received from a live worker; a frozen worker\'s series are its last known values, and this grows', labelNames: ['slot', 'generation'], registers: [this.registry],
      collect() {
        this.reset();
        const at = now();
        for (const sample of appMetrics()) this.set({ slot: sample.slot, generation: sample.generation }, Math.max(0, at - sample.receivedAt) / 1000);
      },
    });
  }

  private supervisor(): void {
    const source = this.source;
    new Counter({
      name: METRIC.workerRestarts, help: 'Workers started in a slot after its first', labelNames: ['slot'], registers: [this.registry],
      collect() {
        this.reset();
        for (const slot of source.state().slots) this.inc({ slot: slot.slot }, Math.max(0, slot.spawns - 1));
      },
    });
    new Counter({
      name: METRIC.replacements, help: 'Workers replaced, by reason', labelNames: ['reason'], registers: [this.registry],
      collect() {
        this.reset();
        const state = source.state();
        const totals = new Map<string, number>(REPLACEMENT_REASONS.map((reason) => [reason, 0]));
        // Slots removed by a scale-down keep counting, so the counter never goes down.
        for (const replacements of [...state.slots.map((slot) => slot.replacements), state.removedSlotReplacements]) {
          for (const [reason, count] of Object.entries(replacements)) totals.set(reason, (totals.get(reason) ?? 0) + count);
        }
        for (const [reason, count] of totals) this.inc({ reason }, count);
      },
    });
    new Counter({
      name: METRIC.quarantines, help: 'Workers quarantined: suspect of answering nothing, taken out of rotation while the evidence comes in', registers: [this.registry],
      collect() {
        this.reset();
        this.inc(source.state().quarantines.started);
      },
    });
    new Counter({
      name: METRIC.quarantineEnds, help: 'Quarantines ended, by outcome (released, recycled, returned: back in rotation as the last one, exited)', labelNames: ['outcome'], registers: [this.registry],
      collect() {
        this.reset();
        const ended = source.state().quarantines.ended;
        for (const outcome of QUARANTINE_OUTCOMES) this.inc({ outcome }, ended[outcome]);
      },
    });
    new Gauge({
      name: METRIC.workers, help: 'Live workers by state', labelNames: ['state'], registers: [this.registry],
      collect() {
        this.reset();
        const counts = new Map<DisplayState, number>(DISPLAY_STATES.map((state) => [state, 0]));
        for (const worker of source.state().workers) counts.set(displayState(worker), (counts.get(displayState(worker)) ?? 0) + 1);
        for (const [state, count] of counts) this.set({ state }, count);
      },
    });
    new Gauge({
      name: METRIC.fleetLoopUtilization, help: 'Mean event-loop utilisation of the ready workers, 0..1: the fleet\'s saturation as one number', registers: [this.registry],
      collect() {
        this.reset();
        const value = fleetUtilization(source.state().workers.filter((worker) => worker.state === 'ready').map((worker) => worker.stats?.eventLoopUtilization));
        if (value !== undefined) this.set(value);
      },
    });
    new Gauge({
      name: METRIC.workersTarget, help: 'Worker slots warden keeps filled', registers: [this.registry],
      collect() {
        this.set(source.state().targetWorkers);
      },
    });
    // --workers MIN..MAX only: a fixed count has no range and makes no decisions.
    new Counter({
      name: METRIC.autoscaleDecisions, help: 'Autoscaling decisions logged, by direction (grow, shrink, hold) and reason (a hold is counted when a cap, the cool-down or a rollout starts to stop the rule)',
      labelNames: ['direction', 'reason'], registers: [this.registry],
      collect() {
        this.reset();
        const run = source.state().autoscale;
        if (run === undefined) return;
        for (const direction of ['grow', 'shrink', 'hold'] as const) {
          for (const reason of AUTOSCALE_REASONS) {
            const count = run.counts[decisionKey(direction, reason)];
            if (count !== undefined) this.inc({ direction, reason }, count);
          }
        }
      },
    });
    new Gauge({
      name: METRIC.autoscaleMin, help: 'MIN of --workers MIN..MAX', registers: [this.registry],
      collect() {
        this.reset();
        const run = source.state().autoscale;
        if (run !== undefined) this.set(run.policy.min);
      },
    });
    new Gauge({
      name: METRIC.autoscaleMax, help: 'MAX of --workers MIN..MAX', registers: [this.registry],
      collect() {
        this.reset();
        const run = source.state().autoscale;
        if (run !== undefined) this.set(run.policy.max);
      },
    });
    new Gauge({
      name: METRIC.autoscaleCeiling, help: 'The most workers autoscaling may reach now: MAX lowered by the cgroup CPU quota and the memory limit', labelNames: ['limited_by'], registers: [this.registry],
      collect() {
        this.reset();
        const run = source.state().autoscale;
        if (run === undefined) return;
        const ceiling = autoscaleCeiling(run.policy, run.caps);
        this.set({ limited_by: ceiling.limitedBy }, ceiling.workers);
      },
    });
    new Counter({
      name: METRIC.reloads, help: 'Rolling reloads, by outcome', labelNames: ['outcome'], registers: [this.registry],
      collect() {
        this.reset();
        for (const [outcome, count] of Object.entries(source.state().reloads)) this.inc({ outcome }, count);
      },
    });
    new Counter({
      name: METRIC.connectionsAccepted, help: 'Connections the primary accepted on the service port', registers: [this.registry],
      collect() {
        this.reset();
        this.inc(source.connections().accepted);
      },
    });
    new Gauge({
      name: METRIC.connectionsHeld, help: 'Connections held by the primary while no worker is in rotation', registers: [this.registry],
      collect() {
        this.set(source.connections().held);
      },
    });
    new Counter({
      name: METRIC.connectionsDropped, help: 'Held connections closed unserved (hold limit or timeout)', registers: [this.registry],
      collect() {
        this.reset();
        this.inc(source.connections().dropped);
      },
    });
    new Gauge({
      name: METRIC.acceptQueue, help: 'Connections waiting in the kernel\'s accept queue of the service socket (/proc/net/tcp): above 0 for long, every worker is busy and clients wait', registers: [this.registry],
      collect() {
        const queued = source.acceptQueue();
        // No sample rather than a made-up 0 where the queue cannot be read.
        if (queued === null) this.reset();
        else this.set(queued);
      },
    });
    new Counter({
      name: METRIC.logDroppedLines, help: 'Log records warden dropped because its output failed or was too slow (closed pipe, full disk)', labelNames: ['stream'], registers: [this.registry],
      collect() {
        this.reset();
        const drops = source.logDrops();
        this.inc({ stream: 'stdout' }, drops.stdout);
        this.inc({ stream: 'stderr' }, drops.stderr);
      },
    });
  }
}

/** The request duration histogram, from the bucket counts each worker reports (not cumulative). */
function durationHistogram(live: () => WorkerRecord[]) {
  const name = METRIC.workerRequestDuration;
  return {
    name, help: 'Time from request to response end on a live worker', type: 'histogram', aggregator: 'sum',
    reset: () => undefined,
    get: () => {
      const values: MetricValue<string>[] = [];
      for (const worker of live()) {
        const http = worker.stats?.http;
        if (http === undefined) continue;
        const labels = workerLabels(worker);
        let cumulative = 0;
        DURATION_BUCKETS_S.forEach((bound, index) => {
          cumulative += http.durationBuckets[index] ?? 0;
          values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bound }, value: cumulative } as MetricValue<string>);
        });
        cumulative += http.durationBuckets[DURATION_BUCKETS_S.length] ?? 0;
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cumulative } as MetricValue<string>);
        values.push({ metricName: `${name}_sum`, labels, value: http.durationSumS } as MetricValue<string>);
        values.push({ metricName: `${name}_count`, labels, value: cumulative } as MetricValue<string>);
      }
      return { name, help: 'Time from request to response end on a live worker', type: 'histogram', aggregator: 'sum', values };
    },
  };
}

/**
 * The app's metrics of every live worker, one family per name, each series gaining `slot` and
 * `generation` (an app label of that name wins; warden's is then `warden_slot`). A family whose
 * name warden uses itself is left out.
 */
export function renderAppMetrics(samples: AppMetricsSample[], reserved: Set<string>): string {
  const families = new Map<string, { help: string; type: string; lines: string[] }>();
  for (const sample of samples) {
    for (const metric of sample.metrics) {
      if (reserved.has(metric.name) || !METRIC_NAME.test(metric.name)) continue;
      let family = families.get(metric.name);
      if (family === undefined) {
        family = { help: metric.help, type: metric.type, lines: [] };
        families.set(metric.name, family);
      }
      for (const value of metric.values) {
        const labels: Record<string, string | number> = { ...value.labels };
        for (const [key, ours] of [['slot', sample.slot], ['generation', sample.generation]] as const) {
          if (Object.hasOwn(labels, key)) labels[`warden_${key}`] = ours;
          else labels[key] = ours;
        }
        const metricName = value.metricName ?? metric.name;
        if (!METRIC_NAME.test(metricName) || !Object.keys(labels).every((key) => LABEL_NAME.test(key))) continue;
        const text = Object.entries(labels).map(([key, v]) => `${key}="${escapeLabel(String(v))}"`).join(',');
        family.lines.push(`${metricName}{${text}} ${formatValue(value.value)}`);
      }
    }
  }
  let out = '';
  for (const [name, family] of families) {
    out += `\n# HELP ${name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${family.type}\n${family.lines.join('\n')}\n`;
  }
  return out;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
