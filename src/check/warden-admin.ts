// Reads a running warden's admin answers for `warden check`: the worker list (`GET <admin>/workers`),
// from which it derives the health and service URLs, and the incident records (`GET <admin>/incidents`).
// Validates the JSON it depends on and nothing more, so fields the admin server adds later do not
// break the check.
import { WardenError } from '../errors.js';
import type { Incident, WorkersBody, WorkerView } from '../protocol/admin.js';
import { describeOutcome, httpGet } from '../net/http-get.js';

/**
 * The fields of a `/workers` row the check relies on (pid null: no live process; inspectPort null:
 * --capture-stacks off). The state stays text: a state a later warden adds must not break the check.
 */
export type AdminWorker = Pick<WorkerView, 'slot' | 'pid' | 'inspectPort'> & { state: string };

export interface AdminWorkers {
  primaryPid: number | null;
  listen: Pick<WorkersBody['primary']['listen'], 'host' | 'port'>;
  workers: AdminWorker[];
}

const MAX_BODY_BYTES = 1024 * 1024;

/** `<admin>/<name>`, keeping any path prefix the admin URL has. */
export function adminEndpoint(adminUrl: URL, name: string): URL {
  const base = new URL(adminUrl);
  if (!base.pathname.endsWith('/')) base.pathname = `${base.pathname}/`;
  base.search = '';
  base.hash = '';
  return new URL(name, base);
}

/** The URL a client would use for warden's listener; wildcard addresses become loopback. */
export function serviceUrlFromListen(listen: { host: string; port: number }): URL {
  let host = listen.host;
  if (host === '' || host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::' || host === '[::]') host = '::1';
  const isIpv6 = host.includes(':') && !host.startsWith('[');
  return new URL(`http://${isIpv6 ? `[${host}]` : host}:${listen.port}/`);
}

export async function fetchWorkers(adminUrl: URL, timeoutMs: number, signal: AbortSignal): Promise<AdminWorkers> {
  const url = adminEndpoint(adminUrl, 'workers');
  const outcome = await httpGet(url, { timeoutMs, signal, maxBodyBytes: MAX_BODY_BYTES });
  if (outcome.kind === 'aborted') throw new WardenError('WARDEN_CHECK', `check aborted while reading ${url}`);
  if (outcome.kind !== 'response') {
    throw new WardenError('WARDEN_CHECK', `cannot read warden's workers from ${url}: ${describeOutcome(outcome)}`, {
      hint: 'is `warden serve` running with its admin port there? For a server warden does not run, use --pid, --health and --url',
    });
  }
  if (outcome.status !== 200) {
    throw new WardenError('WARDEN_CHECK', `${url} answered HTTP ${outcome.status}, expected 200 with warden's worker list`, {
      hint: 'point the admin URL at the admin port of `warden serve` (default http://127.0.0.1:9000)',
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(outcome.body);
  } catch (error) {
    throw new WardenError('WARDEN_CHECK', `${url} did not answer JSON: ${(error as Error).message}`, {
      hint: 'point the admin URL at the admin port of `warden serve`, not at the service port',
      cause: error,
    });
  }
  return parseWorkers(json, url);
}

/** Checks the parts of the `/workers` JSON the check relies on; throws WARDEN_CHECK naming the first bad field. */
export function parseWorkers(json: unknown, url: URL | string): AdminWorkers {
  const fail = (field: string, rule: string): never => {
    throw new WardenError('WARDEN_CHECK', `${url} is not warden's worker list: ${field} ${rule}`, {
      hint: 'point the admin URL at the admin port of `warden serve`; warden and `warden check` must be the same version',
    });
  };
  if (!isRecord(json)) return fail('the body', 'must be a JSON object');
  const primary = json.primary;
  if (!isRecord(primary)) return fail('primary', 'must be an object');
  const listen = primary.listen;
  if (!isRecord(listen)) return fail('primary.listen', 'must be an object');
  if (typeof listen.host !== 'string') return fail('primary.listen.host', 'must be a string');
  if (!isPort(listen.port)) return fail('primary.listen.port', 'must be a port number');
  if (!Array.isArray(json.workers)) return fail('workers', 'must be an array');
  const workers = json.workers.map((entry: unknown, index: number): AdminWorker => {
    if (!isRecord(entry)) return fail(`workers[${index}]`, 'must be an object');
    if (!isPositiveInteger(entry.slot)) return fail(`workers[${index}].slot`, 'must be a positive integer');
    if (entry.pid !== null && !isPositiveInteger(entry.pid)) return fail(`workers[${index}].pid`, 'must be a positive integer or null');
    if (typeof entry.state !== 'string') return fail(`workers[${index}].state`, 'must be a string');
    // Absent before warden listed inspector ports: the same as none reserved.
    const inspectPort = entry.inspectPort ?? null;
    if (inspectPort !== null && !isPort(inspectPort)) return fail(`workers[${index}].inspectPort`, 'must be a port number or null');
    return { slot: entry.slot, pid: entry.pid, state: entry.state, inspectPort };
  });
  return {
    primaryPid: isPositiveInteger(primary.pid) ? primary.pid : null,
    listen: { host: listen.host, port: listen.port },
    workers,
  };
}

/**
 * The worker `warden check` freezes: the one in `slot`, else the ready one with the lowest slot.
 * A slot listing two workers is mid-reload; its new worker would look like a replacement, so skip it.
 */
export function pickWorker(list: AdminWorkers, slot: number | undefined, source: string): { slot: number; pid: number; inspectPort: number | null } {
  const inSlot = (n: number): AdminWorker[] => list.workers.filter((worker) => worker.slot === n);
  if (slot !== undefined) {
    const candidates = inSlot(slot);
    const only = candidates[0];
    if (only === undefined) {
      const slots = [...new Set(list.workers.map((worker) => worker.slot))].sort((a, b) => a - b);
      throw new WardenError('WARDEN_CHECK', `warden at ${source} has no worker in slot ${slot} (slots: ${slots.join(', ') || 'none'})`, {
        hint: 'pick one of the listed slots with --slot',
      });
    }
    if (candidates.length > 1) {
      throw new WardenError('WARDEN_CHECK', `slot ${slot} lists ${candidates.length} workers (pids ${candidates.map((w) => w.pid).join(', ')}): a reload is under way`, {
        hint: 'run the check again once the reload has finished',
      });
    }
    if (only.state !== 'ready' || only.pid === null) {
      throw new WardenError('WARDEN_CHECK', `the worker in slot ${slot} (pid ${only.pid ?? 'none'}) is "${only.state}", not "ready"`, {
        hint: 'wait until it is ready, or pick another slot with --slot',
      });
    }
    return { slot: only.slot, pid: only.pid, inspectPort: only.inspectPort };
  }
  const ready = list.workers
    .filter((worker) => worker.state === 'ready' && inSlot(worker.slot).length === 1)
    .sort((a, b) => a.slot - b.slot);
  const first = ready.find((worker) => worker.pid !== null);
  if (first === undefined || first.pid === null) {
    const states = list.workers.map((worker) => `slot ${worker.slot}: ${worker.state}`).join(', ');
    throw new WardenError('WARDEN_CHECK', `warden at ${source} has no ready worker to freeze (${states || 'no workers'})`, {
      hint: 'wait until `warden serve` reports its workers ready (and any reload has finished), then run the check again',
    });
  }
  return { slot: first.slot, pid: first.pid, inspectPort: first.inspectPort };
}

/** The pid now serving `slot` in place of `frozenPid`, once it is ready; null until then. */
export function replacementInSlot(list: AdminWorkers, slot: number, frozenPid: number): number | null {
  const replacement = list.workers.find(
    (worker) => worker.slot === slot && worker.pid !== null && worker.pid !== frozenPid && worker.state === 'ready',
  );
  return replacement?.pid ?? null;
}

/**
 * What warden recorded about a sick worker before replacing it; the fields the check prints. The
 * kind stays text, so a kind a later warden adds does not break the check.
 */
export type WardenIncident = Pick<Incident, 'at' | 'slot' | 'pid' | 'reason' | 'stack' | 'noStack'> & { kind: string };

/**
 * warden's incident records, or the reason there are none to read (a warden without `/incidents`,
 * a slow answer): incidents only add to the report, so their absence is not an error.
 */
export async function fetchIncidents(
  adminUrl: URL,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ incidents: WardenIncident[] } | { reason: string }> {
  const url = adminEndpoint(adminUrl, 'incidents');
  const outcome = await httpGet(url, { timeoutMs, signal, maxBodyBytes: MAX_BODY_BYTES });
  if (outcome.kind !== 'response') return { reason: `${url}: ${describeOutcome(outcome)}` };
  if (outcome.status !== 200) return { reason: `${url} answered HTTP ${outcome.status}` };
  let json: unknown;
  try {
    json = JSON.parse(outcome.body);
  } catch (error) {
    if (error instanceof SyntaxError) return { reason: `${url} did not answer JSON` };
    throw error;
  }
  const incidents = parseIncidents(json);
  return incidents === null ? { reason: `${url} did not answer a list of incidents` } : { incidents };
}

/** The records of `{ incidents: [...] }` that have the fields the check prints; null when the body has no such list. */
export function parseIncidents(json: unknown): WardenIncident[] | null {
  if (!isRecord(json) || !Array.isArray(json.incidents)) return null;
  const incidents: WardenIncident[] = [];
  for (const entry of json.incidents as unknown[]) {
    if (!isRecord(entry)) continue;
    const { at, slot, pid, kind, reason, stack, noStack } = entry;
    if (typeof at !== 'string' || !isPositiveInteger(slot) || typeof kind !== 'string' || typeof reason !== 'string') continue;
    if (pid !== null && !isPositiveInteger(pid)) continue;
    incidents.push({
      at, slot, pid, kind, reason,
      ...(typeof stack === 'string' ? { stack } : {}),
      ...(typeof noStack === 'string' ? { noStack } : {}),
    });
  }
  return incidents;
}

/**
 * The latest incident warden recorded for `pid` at or after `sinceMs` (epoch ms, the moment of the
 * fault): an older record with the same pid belongs to an earlier process that had that pid.
 */
export function incidentFor(incidents: readonly WardenIncident[], pid: number, sinceMs: number): WardenIncident | null {
  const matching = incidents.filter((incident) => {
    const atMs = Date.parse(incident.at);
    return incident.pid === pid && (Number.isNaN(atMs) || atMs >= sinceMs);
  });
  // ISO 8601 times in UTC, as warden writes them, sort as text.
  return matching.sort((a, b) => a.at.localeCompare(b.at)).at(-1) ?? null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

function isPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 65536;
}
