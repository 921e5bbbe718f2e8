// Pure: the scale experiment's figures summarised per (workers, contender), and the performance
// issue's fleet-size goals marked held, missed or not measured. No processes, no clock.

import { median, round } from './report.js';

export const GOALS = {
  idleCpuPercent: { 32: 0.5, 64: 1 },
  loadCpuOverClusterPercent: 0.5,
  loadCpuWorkers: 2,
  startupRatio: 1.2,
  startupWorkers: [1, 8, 32],
  reloadWorkers: 8,
  reloadBootTimes: 3,
  primaryRssOverClusterMb: 8,
  workerRssOverClusterMb: 3,
};

const held = (ok) => (ok === undefined ? 'not measured' : ok ? 'held' : 'missed');
const num = (value, digits = 1) => (value === undefined || value === null ? '-' : Number(value).toFixed(digits));

/** One row per (workers, contender): the median over the rounds of each figure. */
export function summarizeScale(runs) {
  const rows = [];
  const keys = [...new Set(runs.map((run) => `${run.workers}|${run.contender}`))];
  for (const key of keys) {
    const mine = runs.filter((run) => `${run.workers}|${run.contender}` === key && run.failed === undefined);
    const [workers, contender] = [Number(key.split('|')[0]), key.split('|')[1]];
    const pick = (fn, digits = 1) => round(median(mine.map(fn)), digits);
    rows.push({
      workers, contender, label: mine[0]?.label ?? contender, rounds: mine.length,
      failed: runs.filter((run) => `${run.workers}|${run.contender}` === key && run.failed !== undefined).map((run) => run.failed),
      startupMs: pick((r) => r.startupMs, 0),
      idleCpuPercent: pick((r) => r.idleCpuPercent, 2),
      loadCpuPercent: pick((r) => r.loadCpuPercent, 2),
      loadReqPerSec: pick((r) => r.loadReqPerSec, 0),
      primaryRssMb: pick((r) => r.primaryRssMb),
      workerRssMb: pick((r) => r.workerRssMb),
      workersP50Ms: pick((r) => r.admin?.workers.p50), workersP99Ms: pick((r) => r.admin?.workers.p99),
      metricsP50Ms: pick((r) => r.admin?.metrics.p50), metricsP99Ms: pick((r) => r.admin?.metrics.p99),
      reloadMs: pick((r) => r.reloadMs, 0),
    });
  }
  return rows.sort((a, b) => a.workers - b.workers || a.contender.localeCompare(b.contender));
}

/** Each goal once, its figure listing every worker count it was judged at. */
export function scaleTargets(rows, { warden = 'warden', cluster = 'cluster-none' } = {}) {
  const of = (workers, key) => rows.find((row) => row.workers === workers && row.contender === key && row.rounds > 0);
  const counts = [...new Set(rows.map((row) => row.workers))].sort((a, b) => a - b);
  const out = [];
  const judge = (target, points) => {
    const measured = points.filter((point) => point.ok !== undefined);
    out.push({
      target,
      figure: measured.length === 0 ? 'not measured at these worker counts' : measured.map((point) => `${point.workers}: ${point.figure}`).join('; '),
      status: held(measured.length === 0 ? undefined : measured.every((point) => point.ok)),
    });
  };
  judge(`primary CPU idle < ${GOALS.idleCpuPercent[32]} % of a core at 32 workers and < ${GOALS.idleCpuPercent[64]} % at 64`, Object.entries(GOALS.idleCpuPercent).map(([workers, bound]) => {
    const row = of(Number(workers), warden);
    return { workers, ok: row?.idleCpuPercent === undefined ? undefined : row.idleCpuPercent < bound, figure: `${num(row?.idleCpuPercent, 2)} % (node:cluster ${num(of(Number(workers), cluster)?.idleCpuPercent, 2)} %)` };
  }));
  {
    const workers = GOALS.loadCpuWorkers;
    const mine = of(workers, warden);
    const theirs = of(workers, cluster);
    const ok = mine?.loadCpuPercent === undefined || theirs?.loadCpuPercent === undefined ? undefined : mine.loadCpuPercent <= theirs.loadCpuPercent + GOALS.loadCpuOverClusterPercent;
    judge(`primary CPU under keep-alive load with ${workers} workers <= node:cluster SCHED_NONE's + ${GOALS.loadCpuOverClusterPercent} %`, [{ workers, ok, figure: `${num(mine?.loadCpuPercent, 2)} % against ${num(theirs?.loadCpuPercent, 2)} %` }]);
  }
  judge(`every worker answering within ${GOALS.startupRatio} x node:cluster's time at ${GOALS.startupWorkers.join(', ')} workers`, GOALS.startupWorkers.map((workers) => {
    const mine = of(workers, warden)?.startupMs;
    const theirs = of(workers, cluster)?.startupMs;
    const ok = mine === undefined || !(theirs > 0) ? undefined : mine <= GOALS.startupRatio * theirs;
    return { workers, ok, figure: `${num(mine, 0)} ms against ${num(theirs, 0)} ms (${theirs > 0 && mine !== undefined ? (mine / theirs).toFixed(2) : '-'} x)` };
  }));
  {
    // A boot time: warden's own time from spawn to its one worker answering.
    const boot = of(1, warden)?.startupMs;
    const reload = of(GOALS.reloadWorkers, warden)?.reloadMs;
    const ok = boot === undefined || reload === undefined ? undefined : reload <= GOALS.reloadBootTimes * boot;
    judge(`a reload of ${GOALS.reloadWorkers} workers within ${GOALS.reloadBootTimes} boot times (boot: warden's start-up at 1 worker)`, [{ workers: GOALS.reloadWorkers, ok, figure: `${num(reload, 0)} ms against ${GOALS.reloadBootTimes} x ${num(boot, 0)} ms` }]);
  }
  judge(`primary RSS within node:cluster's primary + ${GOALS.primaryRssOverClusterMb} MB`, counts.map((workers) => {
    const mine = of(workers, warden)?.primaryRssMb;
    const theirs = of(workers, cluster)?.primaryRssMb;
    return { workers, ok: mine === undefined || theirs === undefined ? undefined : mine <= theirs + GOALS.primaryRssOverClusterMb, figure: `${num(mine)} against ${num(theirs)} MB` };
  }));
  judge(`worker RSS within a node:cluster worker + ${GOALS.workerRssOverClusterMb} MB`, counts.map((workers) => {
    const mine = of(workers, warden)?.workerRssMb;
    const theirs = of(workers, cluster)?.workerRssMb;
    return { workers, ok: mine === undefined || theirs === undefined ? undefined : mine <= theirs + GOALS.workerRssOverClusterMb, figure: `${num(mine)} against ${num(theirs)} MB` };
  }));
  return out;
}
