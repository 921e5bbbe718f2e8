// Pure: renders a `warden check` report as a few lines of text for a terminal, times in seconds.
// Printing it (and choosing the exit code from the verdict) is cli/'s job.
import type { CheckReport } from './run-check.js';
import { seconds } from './verdict.js';

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

  const restored = {
    SIGCONT: `worker ${frozen.pid} resumed with SIGCONT`,
    'already-exited': `nothing to resume: worker ${frozen.pid} had exited`,
    'not-stopped': `nothing to resume: worker ${frozen.pid} was no longer stopped`,
  }[report.restoredBy];

  return [
    `warden check: ${report.verdict.toUpperCase()}`,
    `  frozen    worker ${frozen.pid} (${where}) with SIGSTOP, ${watched}`,
    `  health    ${report.healthUrl}: ${health}`,
    `  requests  ${report.serviceUrl}: ${service}`,
    `  replaced  ${replaced}`,
    `  restored  ${restored}`,
    ...report.reasons.map((reason) => `  - ${reason}`),
  ].join('\n');
}

/** Where the frozen worker sits: "slot 1 of 4" under warden, "child 1 of 4 of process 123" otherwise. */
export function describePlace(target: CheckReport['target'], slot: number, workerCount: number): string {
  return target.kind === 'warden' ? `slot ${slot} of ${workerCount}` : `child ${slot} of ${workerCount} of process ${target.pid}`;
}
