// Pure: renders a `warden check` report as a few lines of text for a terminal, times in seconds,
// with the incident warden recorded under it (its stack as an indented block), and the phrases the
// check logs while it runs. Printing (and choosing the exit code from the verdict) is cli/'s job.
import { BUSY_LOOP_FUNCTION } from './busy-loop.js';
import type { CheckReport, Fault, RestoredBy } from './report.js';
import { seconds } from './verdict.js';
import type { WardenIncident } from './warden-admin.js';

export function formatCheckReport(report: CheckReport): string {
  const { frozen } = report;
  const where = describePlace(report.target, frozen.slot, report.workerCount);
  const watched = report.endedEarly
    ? `watched ${seconds(report.elapsedMs)} (ended early: replaced and healthy again)`
    : `watched ${seconds(report.elapsedMs)}`;

  const health =
    report.healthFirstRedAtMs === null
      ? `green throughout (${report.health.polls} polls)`
      : `first failed after ${seconds(report.healthFirstRedAtMs)}, ` +
        (report.healthRecoveredAtMs === null
          ? 'still failing at the end'
          : `green again after ${seconds(report.healthRecoveredAtMs)}`) +
        ` (${report.health.failed} of ${report.health.polls} polls failed)`;

  const { requests } = report;
  const service = `${requests.sent} sent: ${requests.ok} ok, ${requests.failed} failed, ${requests.timedOut} timed out`;

  const replaced =
    report.replacedAtMs === null
      ? report.frozenExitedAtMs === null
        ? 'never'
        : `never (worker exited after ${seconds(report.frozenExitedAtMs)}, nothing took its place)`
      : `by worker ${report.newPid} after ${seconds(report.replacedAtMs)}`;

  const nothingTo = report.fault === 'stop' ? 'nothing to resume' : 'nothing to stop';
  const restored = {
    SIGCONT: `worker ${frozen.pid} resumed with SIGCONT`,
    'already-exited': `${nothingTo}: worker ${frozen.pid} had exited`,
    'not-stopped': `${nothingTo}: worker ${frozen.pid} was no longer stopped`,
    SIGKILL: `worker ${frozen.pid} was still busy-looping: killed with SIGKILL`,
  }[report.restoredBy];

  return [
    `warden check: ${report.verdict.toUpperCase()}`,
    `  frozen    worker ${frozen.pid} (${where}) with ${describeFault(report.fault)}, ${watched}`,
    `  health    ${report.healthUrl}: ${health}`,
    `  requests  ${report.serviceUrl}: ${service}`,
    `  replaced  ${replaced}`,
    `  restored  ${restored}`,
    ...report.reasons.map((reason) => `  - ${reason}`),
    ...(report.target.kind === 'warden' ? formatIncident(report.incident, frozen.pid) : []),
  ].join('\n');
}

/**
 * What warden recorded about the frozen worker: one line, then the stack as an indented block, or
 * the line saying why warden could take none.
 */
export function formatIncident(incident: WardenIncident | null, pid: number): string[] {
  if (incident === null) return [`  incident  none recorded by warden for worker ${pid}`];
  const what = `  incident  ${incident.kind} (${incident.reason})`;
  if (incident.stack !== undefined && incident.stack.trim() !== '') {
    const frames = incident.stack.split('\n').filter((line) => line.trim() !== '');
    return [`${what}; its main thread was here:`, ...frames.map((line) => `      ${line.trim()}`)];
  }
  if (incident.noStack !== undefined) return [what, `      ${incident.noStack}`];
  return [what];
}

/** Where the frozen worker sits: "slot 1 of 4" under warden, "child 1 of 4 of process 123" otherwise. */
export function describePlace(target: CheckReport['target'], slot: number, workerCount: number): string {
  return target.kind === 'warden' ? `slot ${slot} of ${workerCount}` : `child ${slot} of ${workerCount} of process ${target.pid}`;
}

/** How the worker was frozen, after "with". */
export function describeFault(fault: Fault): string {
  switch (fault) {
    case 'stop':
      return 'SIGSTOP';
    case 'spin':
      return `a busy loop (${BUSY_LOOP_FUNCTION})`;
    default: {
      const impossible: never = fault;
      throw new Error(`unknown fault ${String(impossible)}`);
    }
  }
}

/** The log line once the fault was undone (or found undone). */
export function describeRestore(pid: number, restoredBy: RestoredBy): string {
  switch (restoredBy) {
    case 'SIGCONT':
      return `resumed worker ${pid} with SIGCONT`;
    case 'already-exited':
      return `worker ${pid} had exited; nothing to undo`;
    case 'not-stopped':
      return `worker ${pid} was no longer stopped; nothing to resume`;
    case 'SIGKILL':
      return `worker ${pid} was still busy-looping (not replaced); killed it with SIGKILL`;
    default: {
      const impossible: never = restoredBy;
      throw new Error(`unknown restore result ${String(impossible)}`);
    }
  }
}
