// The admin route table and the `/workers` body, read from the primary's memory at request time:
// what each path answers, never how it is served (admin-server.ts) nor what the state means
// (report.ts). prom-client is loaded on the first scrape only.

import { livez, readyz, workersReport, type PrimaryInfo } from './report.js';
import type { IncidentLog } from '../../diagnose/incidents.js';
import type { Logger } from '../../log/logger.js';
import type { MachineState } from '../machine/index.js';
import type { ConnectionStats } from '../net/listener.js';
import type { AdminRoutes } from './admin-server.js';
import { dashboardPage } from './dashboard-page.js';
import type { AppMetricsSample, MetricsSource, WardenMetrics } from './metrics.js';
import type { Timeline } from './timeline.js';

/** What the admin routes read; every function is called at request time. */
export interface AdminSource {
  state(): MachineState;
  now(): number;
  info(): PrimaryInfo & { control: string | null };
  requiredReady(): number;
  pendingHandoffs(id: number): number;
  inspectPort(id: number): number | undefined;
  readonly connections: ConnectionStats;
  readonly incidents: IncidentLog;
  readonly timeline: Timeline;
  readonly log: Logger;
  appMetrics(): AppMetricsSample[];
  /** Connections waiting in the service socket's accept queue; null when unknown. */
  acceptQueue(): number | null;
  /** --backlog, shown beside the queue. */
  readonly backlog: number;
}

export function adminRoutes(source: AdminSource): AdminRoutes {
  const metricsSource: MetricsSource = {
    state: () => source.state(),
    now: () => source.now(),
    connections: () => source.connections,
    logDrops: () => {
      const stats = source.log.streamStats();
      return { stdout: stats.stdout.droppedLines, stderr: stats.stderr.droppedLines };
    },
    appMetrics: () => source.appMetrics(),
    acceptQueue: () => source.acceptQueue(),
  };
  // Built on the first scrape: values are read at scrape time anyway.
  let metrics: Promise<WardenMetrics> | undefined;
  return {
    '/livez': () => livez(source.state()),
    '/readyz': () => readyz(source.state(), source.requiredReady()),
    '/workers': () => ({ status: 200, body: workersBody(source) }),
    '/incidents': () => ({ status: 200, body: { incidents: source.incidents.all() } }),
    '/events': () => ({ status: 200, body: { events: source.timeline.entries } }),
    '/metrics': async () => {
      metrics ??= import('./metrics.js').then(({ WardenMetrics }) => new WardenMetrics(metricsSource));
      const built = await metrics;
      return { status: 200, contentType: built.contentType, text: await built.render() };
    },
    '/': () => ({ status: 200, contentType: 'text/html; charset=utf-8', text: dashboardPage() }),
  };
}

/** GET /workers and `warden status`. */
export function workersBody(source: AdminSource) {
  return workersReport(source.state(), source.info(), source.now(), (id) => ({
    pendingHandoffs: source.pendingHandoffs(id),
    inspectPort: source.inspectPort(id) ?? null,
  }), { incidents: (slot) => source.incidents.forSlot(slot), connections: { ...source.connections },
    acceptQueue: { length: source.acceptQueue(), backlog: source.backlog }, logs: source.log.streamStats() });
}
