// `warden status` as a table, like `pm2 ls`: one line per worker. Pure: /workers answers in, text
// out; req/s comes from two answers (the served counts and the time between them).

import type { WorkersBody, WorkerView } from '../protocol/admin.js';
import { size } from '../units.js';

/** One reading of `/workers`, stamped with a monotonic time in milliseconds. */
export interface StatusSample {
  at: number;
  body: WorkersBody;
}

export interface StatusRow {
  slot: number;
  generation: number;
  pid: number | null;
  state: string;
  uptimeMs: number;
  requestsPerSecond: number | null;
  inFlight: number;
  loopDelayMs: number | null;
  eventLoopUtilization: number | null;
  saturated: boolean;
  rssBytes: number | null;
  restarts: number;
  lastExit: string | null;
  lastIncident: string | null;
  /** "quarantined 3s (out of rotation): <reason>", "suspect 3s (last in rotation): <reason>"; null when not suspect. */
  suspicion: string | null;
}

/** A worker's suspicion in the words of /workers (the display state `quarantined`, docs/health.md). */
export function suspicionText(worker: Pick<WorkerView, 'state' | 'suspicion'>): string | null {
  const suspicion = worker.suspicion;
  if (suspicion === null || suspicion === undefined) return null;
  // A recycled suspect keeps its suspicion, the evidence included, until it exits.
  if (worker.state !== 'ready' && worker.state !== 'quarantined') return suspicion.evidence === null ? null : `recycled on evidence: ${suspicion.evidence}`;
  const head = suspicion.isQuarantined
    ? `quarantined ${formatDuration(suspicion.quarantinedForMs ?? suspicion.suspectForMs)} (out of rotation)`
    : `suspect ${formatDuration(suspicion.suspectForMs)} (last in rotation)`;
  return `${head}: ${suspicion.evidence ?? suspicion.reason}`;
}

export function statusRows(current: StatusSample, previous: StatusSample | undefined): StatusRow[] {
  return current.body.workers.map((worker) => {
    const before = previous?.body.workers.find((other) => other.pid !== null && other.pid === worker.pid);
    const seconds = previous === undefined ? 0 : (current.at - previous.at) / 1000;
    const rate = before !== undefined && seconds > 0 ? Math.max(0, worker.served - before.served) / seconds : null;
    const incident = worker.incidents?.at(-1);
    return {
      slot: worker.slot, generation: worker.generation, pid: worker.pid, state: worker.state, uptimeMs: worker.uptimeMs,
      requestsPerSecond: rate === null ? null : Math.round(rate * 10) / 10, inFlight: worker.inFlight, loopDelayMs: worker.loopDelayMs,
      eventLoopUtilization: worker.eventLoopUtilization ?? null,
      saturated: worker.saturated ?? false,
      rssBytes: worker.rssBytes, restarts: worker.restarts, lastExit: worker.lastExit?.reason ?? null,
      lastIncident: incident === undefined ? null : `${incident.kind}${incident.reason === undefined ? '' : `: ${incident.reason}`}`,
      suspicion: suspicionText(worker),
    };
  });
}

const GREEN = '\x1b[32m';
const YELLOW = '\x1b[33m';
const RED = '\x1b[31m';
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

function stateColour(state: string): string {
  if (state === 'ready') return GREEN;
  if (state === 'booting' || state === 'quarantined' || state === 'draining' || state === 'stopping') return YELLOW;
  return RED;
}

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

function formatBytes(bytes: number | null): string {
  return bytes === null ? '-' : size(bytes);
}

function clip(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

export function formatStatus(sample: StatusSample, rows: StatusRow[], options: { colour: boolean; width: number }): string {
  const p = sample.body.primary;
  const paint = (colour: string, text: string) => (options.colour ? `${colour}${text}${RESET}` : text);
  const quarantined = rows.filter((r) => r.state === 'quarantined').length;
  const queue = sample.body.acceptQueue;
  const queued = queue === undefined || queue.length === null ? '' : `  queue ${queue.length}/${queue.backlog}`;
  const header = `warden primary ${p.pid}  ${p.module}  ${p.phase}  up ${formatDuration(p.uptimeMs)}  http://${p.listen.host}:${p.listen.port}  ${rows.filter((r) => r.state === 'ready').length}/${p.workersTarget} ready${quarantined > 0 ? `, ${quarantined} quarantined` : ''}${p.fleetUtilization === null || p.fleetUtilization === undefined ? '' : `  elu ${Math.round(p.fleetUtilization * 100)}%`}${queued}`;
  const titles = ['slot', 'pid', 'state', 'uptime', 'req/s', 'in flight', 'loop', 'elu', 'rss', 'restarts', 'suspicion / last exit / incident'];
  const cells = rows.map((row) => [
    row.generation > 1 ? `${row.slot} g${row.generation}` : String(row.slot),
    row.pid === null ? '-' : String(row.pid),
    row.state,
    row.pid === null ? '-' : formatDuration(row.uptimeMs),
    row.requestsPerSecond === null ? '-' : String(row.requestsPerSecond),
    String(row.inFlight),
    row.loopDelayMs === null ? "-" : `${Math.round(row.loopDelayMs * 10) / 10}ms`,
    row.eventLoopUtilization === null ? '-' : `${Math.round(row.eventLoopUtilization * 100)}%${row.saturated ? ' saturated' : ''}`,
    formatBytes(row.rssBytes),
    String(row.restarts),
    [row.suspicion, row.lastExit, row.lastIncident].filter((text) => text !== null).join(' / ') || '-',
  ]);
  const widths = titles.map((title, index) => Math.max(title.length, ...cells.map((line) => (line[index] as string).length)));
  const fixed = widths.slice(0, -1).reduce((sum, width) => sum + width + 2, 0);
  widths[widths.length - 1] = Math.max(12, Math.min(widths.at(-1) as number, options.width - fixed));
  const line = (values: string[], colourOf?: (index: number) => string | undefined) => values
    .map((value, index) => {
      const padded = index === values.length - 1 ? clip(value, widths[index] as number) : value.padEnd(widths[index] as number);
      const colour = colourOf?.(index);
      return colour === undefined ? padded : paint(colour, padded);
    })
    .join('  ').trimEnd();
  return [
    header,
    ...autoscaleLine(p),
    line(titles, () => DIM),
    ...cells.map((values, rowIndex) => line(values, (index) => (index === 2 ? stateColour((rows[rowIndex] as StatusRow).state) : undefined))),
  ].join('\n') + '\n';
}

/** With --workers MIN..MAX: the range, its ceiling now, and the last decision with its reason. */
function autoscaleLine(p: WorkersBody['primary']): string[] {
  const auto = p.autoscale;
  if (auto === null || auto === undefined) return [];
  const ceiling = auto.ceiling < auto.max ? ` (at most ${auto.ceiling} now: ${auto.limitedBy})` : '';
  const last = auto.last;
  let decision = 'no decision yet';
  if (last !== null) {
    const agoMs = Date.parse(p.startedAt) + p.uptimeMs - Date.parse(last.at);
    const ago = Number.isFinite(agoMs) ? ` ${formatDuration(Math.max(0, agoMs))} ago` : '';
    const what = last.change === 'hold' ? `held at ${last.workers}` : `${last.change} ${last.from} -> ${last.workers}`;
    decision = `last: ${what}${ago} (${last.reason}): ${last.detail}`;
  }
  return [`autoscale ${auto.min}..${auto.max}${ceiling}, target ${p.workersTarget}; ${decision}`];
}

/** Colour only on a terminal, and never with NO_COLOR set (https://no-color.org). */
export function useColour(isTTY: boolean, env: NodeJS.ProcessEnv): boolean {
  return isTTY && (env.NO_COLOR === undefined || env.NO_COLOR === '') && env.TERM !== 'dumb';
}
