// Watching a fleet from outside for the verdict matrix, every 100 ms. warden: GET /workers (each
// pid's slot, when it left rotation and came back, when it died, why its slot says it went).
// node:cluster and PM2: the primary's child pids (a new pid is a replacement; they have no rotation).
// Records what it saw with performance.now() times; the figures are made by verdict-report.js.

import { childPids, isAlive, sleep } from './processes.js';

/** pid -> { slot, firstSeenAt, outAt[], backAt[], outReasons[], diedAt, exitReason, inRotation }, plus the slots' replacement counts. */
export function watchFleet(contender, { everyMs = 100 } = {}) {
  const pids = new Map();
  const isWarden = contender.adminUrl !== undefined;
  let replacementsAtStart;
  let replacementsAtEnd;
  let isRunning = true;
  /** A worker seen for the first time starts as it is seen: a booting one is not "out of rotation". */
  const see = (pid, slot, now, inRotation = true) => {
    if (!pids.has(pid)) pids.set(pid, { pid, slot, firstSeenAt: now, outAt: [], backAt: [], diedAt: undefined, exitReason: undefined, outReasons: [], longestWaitMs: 0, inRotation, inRotationAt: undefined });
    return pids.get(pid);
  };
  const tick = async () => {
    const now = performance.now();
    if (isWarden) {
      const report = await contender.workersReport().catch(() => undefined);
      if (report === undefined) return;
      // Per slot (a slot lists two workers while one replaces the other), then summed per reason.
      const bySlot = new Map();
      for (const worker of report.workers) if (worker.replacements) bySlot.set(worker.slot, worker.replacements);
      const counts = {};
      for (const replacements of bySlot.values()) {
        for (const [reason, n] of Object.entries(replacements)) counts[reason] = (counts[reason] ?? 0) + n;
      }
      for (const worker of report.workers) {
        if (worker.lastExit?.pid !== undefined && pids.has(worker.lastExit.pid)) pids.get(worker.lastExit.pid).exitReason ??= worker.lastExit.reason;
        if (worker.pid === null) continue;
        const entry = see(worker.pid, worker.slot, now, worker.inRotation);
        if (worker.inRotation) entry.inRotationAt ??= now;
        // Evidence that a healthy cell tested what it claims: a worker held a request this long.
        entry.longestWaitMs = Math.max(entry.longestWaitMs, worker.oldestInFlightMs ?? 0);
        if (entry.inRotation && !worker.inRotation) entry.outAt.push(now);
        // What /workers says of a worker out of rotation (state and reason), each change once.
        const why = `${worker.state}${worker.reason ? `: ${worker.reason}` : ''}`;
        if (!worker.inRotation && entry.outAt.length > 0 && entry.outReasons.at(-1) !== why) entry.outReasons.push(why);
        if (!entry.inRotation && worker.inRotation) entry.backAt.push(now);
        entry.inRotation = worker.inRotation;
      }
      replacementsAtStart ??= counts;
      replacementsAtEnd = counts;
    } else {
      for (const pid of childPids(contender.primaryPid)) {
        const entry = see(pid, undefined, now);
        entry.inRotationAt ??= now;
      }
    }
    for (const entry of pids.values()) {
      if (entry.diedAt !== undefined || isAlive(entry.pid)) continue;
      entry.diedAt = now;
      if (entry.inRotation) {
        entry.outAt.push(now);
        entry.inRotation = false;
      }
    }
  };
  const done = (async () => {
    while (isRunning) {
      await tick();
      await sleep(everyMs);
    }
  })();
  return {
    pids,
    /** A first look, so the workers present before the traffic are known. */
    ready: tick(),
    /** Stop watching (before the contender is stopped: its own stop is not a recycle). */
    async stop() {
      isRunning = false;
      await done;
      await tick();
      return { pids: [...pids.values()], replacementsAtStart, replacementsAtEnd };
    },
  };
}
