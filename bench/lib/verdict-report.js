// Pure: the figures of one verdict-matrix run (from what verdict-watch.js saw, the clients' records
// and the app's arrival counts), the summary per cell, contender, connection kind and host, which
// targets hold, and the markdown report. No I/O.

import { spread } from './experiments.js';
import { round } from './report.js';

/** The targets of the matrix, in seconds. */
export const TARGETS = { outOfRotationUnderLoadS: 2, replacedUnderLoadS: 3, outOfRotationSparseS: 3 };
const RECYCLE_REASONS = ['stalled', 'stuck', 'unhealthy', 'crashed', 'memory', 'boot-timeout'];

const seconds = (at, from) => (at === undefined || from === undefined ? undefined : round((at - from) / 1000, 2));

/**
 * One run's figures. `watched`: verdict-watch.js's stop() result; `records`: the clients' requests;
 * `victim`: { pid, at } for a caught cell; `arrivals`: { pid -> requests that reached it during the
 * run }, `lateArrivals`: the same over the last 2 s (is the victim still receiving?).
 */
export function runFigures({ cell, watched, records, victim, arrivals, lateArrivals, startedAt, endedAt, pinnedPid, pinnedCount }) {
  const pids = watched.pids;
  const initial = pids.filter((entry) => entry.firstSeenAt <= startedAt);
  // Recycled: died during the run, or already followed in its slot by a newer worker (a drained
  // victim may outlive the run by its --graceful-timeout).
  const hasSuccessor = (entry) => entry.slot !== undefined && pids.some((other) => other.slot === entry.slot && other.firstSeenAt > entry.firstSeenAt && other.firstSeenAt <= endedAt);
  const recycled = pids.filter((entry) => (entry.diedAt !== undefined && entry.diedAt <= endedAt) || hasSuccessor(entry));
  const replacements = {};
  for (const reason of RECYCLE_REASONS) {
    const n = (watched.replacementsAtEnd?.[reason] ?? 0) - (watched.replacementsAtStart?.[reason] ?? 0);
    if (n > 0) replacements[reason] = n;
  }
  const quarantined = pids.filter((entry) => entry.outAt.some((at) => entry.diedAt === undefined || at < entry.diedAt));
  const ended = records.filter((record) => record.failure !== 'aborted');
  const failures = {};
  for (const record of ended) if (record.failure !== undefined) failures[record.failure] = (failures[record.failure] ?? 0) + 1;
  const figures = {
    recycles: recycled.length,
    // The slot's lastExit once the worker is gone; before that, why /workers showed it out of rotation.
    recycleReasons: recycled.map((entry) => entry.exitReason ?? entry.outReasons.at(-1) ?? 'exited'),
    replacements,
    quarantines: quarantined.length,
    quarantineReasons: quarantined.flatMap((entry) => entry.outReasons),
    released: pids.filter((entry) => entry.backAt.length > 0).length,
    longestWaitS: round(Math.max(0, ...pids.map((entry) => entry.longestWaitMs ?? 0)) / 1000, 1),
    requests: records.length,
    answered: ended.filter((record) => record.failure === undefined).length,
    failed: Object.values(failures).reduce((a, b) => a + b, 0),
    failures,
    unansweredAtEnd: records.length - ended.length,
    arrivals,
    workersAtStart: initial.length,
  };
  if (pinnedPid !== undefined) {
    const total = Object.values(arrivals).reduce((a, b) => a + b, 0);
    figures.pinned = { pid: pinnedPid, connections: pinnedCount, sharePct: total === 0 ? undefined : round((100 * (arrivals[pinnedPid] ?? 0)) / total, 0) };
  }
  if (victim !== undefined) {
    const entry = pids.find((candidate) => candidate.pid === victim.pid);
    // The first request after the poison that got no answer: the clock of "out of rotation".
    // (One still waiting when the run ended counts too: its client would have waited longer.)
    const unanswered = records.filter((record) => record.start >= victim.at && record.failure !== undefined).sort((a, b) => a.start - b.start)[0];
    const firstUnansweredAt = unanswered?.start;
    const outAt = entry?.outAt[0];
    const replacement = pids.find((candidate) => candidate !== entry && entry?.slot !== undefined && candidate.slot === entry.slot && candidate.firstSeenAt > victim.at);
    const contenderReplacement = entry?.slot === undefined ? pids.find((candidate) => candidate.firstSeenAt > victim.at) : undefined;
    const replacedAt = (replacement ?? contenderReplacement)?.inRotationAt;
    const peerAnswered = records.some((record) => record.start >= victim.at && record.failure === undefined && record.pid !== victim.pid);
    figures.victim = {
      pid: victim.pid,
      firstUnansweredS: seconds(firstUnansweredAt, victim.at),
      outOfRotationS: seconds(outAt, firstUnansweredAt ?? victim.at),
      outOfRotationAfterPoisonS: seconds(outAt, victim.at),
      replacedS: seconds(replacedAt, firstUnansweredAt ?? victim.at),
      killedS: seconds(entry?.diedAt, victim.at),
      reason: entry?.exitReason,
      arrivalsAfterPoison: arrivals[victim.pid] ?? 0,
      stillReceivingAtEnd: (lateArrivals[victim.pid] ?? 0) > 0,
      aliveAtEnd: entry?.diedAt === undefined,
      peerAnswered,
    };
  }
  return figures;
}

/** Held, missed or n/a for one group of runs of the same cell, contender, connection kind and host. */
export function groupTarget(cell, contender, runs) {
  if (cell.kind === 'healthy') {
    const bad = runs.filter((run) => run.recycles > 0).length;
    return { target: '0 recycles in every run', status: bad === 0 ? 'held' : 'missed', figure: `${bad} of ${runs.length} runs recycled a worker` };
  }
  if (!contender.startsWith('warden')) {
    const receiving = runs.filter((run) => run.victim?.stillReceivingAtEnd).length;
    const replaced = runs.filter((run) => run.victim?.replacedS !== undefined).length;
    return { target: 'n/a (no verdict: it never replaces a poisoned worker)', status: 'n/a', figure: `replaced in ${replaced} of ${runs.length} runs; poisoned worker still receiving requests at the end in ${receiving} of ${runs.length}` };
  }
  if (cell.sparse) {
    const judged = runs.filter((run) => run.victim?.firstUnansweredS !== undefined && run.victim.peerAnswered);
    const late = judged.filter((run) => !(run.victim.outOfRotationS <= TARGETS.outOfRotationSparseS));
    const noEvidence = runs.length - judged.length;
    return {
      target: `out of rotation <= ${TARGETS.outOfRotationSparseS} s after the first unanswered request while a peer answers`,
      status: judged.length === 0 ? 'n/a' : late.length === 0 ? 'held' : 'missed',
      figure: `${judged.length - late.length} of ${judged.length} runs within the bound${noEvidence > 0 ? `; ${noEvidence} run(s) where no request reached the victim or no peer answered` : ''}`,
    };
  }
  const late = runs.filter((run) => !(run.victim?.outOfRotationS <= TARGETS.outOfRotationUnderLoadS && run.victim?.replacedS <= TARGETS.replacedUnderLoadS));
  return {
    target: `out of rotation <= ${TARGETS.outOfRotationUnderLoadS} s and replaced <= ${TARGETS.replacedUnderLoadS} s under load`,
    status: late.length === 0 ? 'held' : 'missed',
    figure: `${runs.length - late.length} of ${runs.length} runs within both bounds`,
  };
}

/** One row per cell, contender (or balance mode), connection kind and host, over the rounds. */
export function summarize(results, cells) {
  const groups = new Map();
  for (const result of results) {
    const key = [result.cell, result.contender, result.conn, result.host].join('|');
    if (!groups.has(key)) groups.set(key, { cell: result.cell, contender: result.contender, conn: result.conn, host: result.host, runs: [] });
    groups.get(key).runs.push(result.figures);
  }
  return [...groups.values()].map((group) => {
    const runs = group.runs;
    const victims = runs.map((run) => run.victim).filter(Boolean);
    return {
      ...group,
      runs: runs.length,
      recyclesPerRun: runs.map((run) => run.recycles),
      quarantinesPerRun: runs.map((run) => run.quarantines),
      reasons: [...new Set(runs.flatMap((run) => run.recycleReasons))],
      outOfRotationS: spread(victims.map((victim) => victim.outOfRotationS), 2),
      replacedS: spread(victims.map((victim) => victim.replacedS), 2),
      neverOut: victims.filter((victim) => victim.outOfRotationS === undefined).length,
      neverReplaced: victims.filter((victim) => victim.replacedS === undefined).length,
      failed: spread(runs.map((run) => run.failed)),
      longestWaitS: spread(runs.map((run) => run.longestWaitS), 1),
      unansweredAtEnd: spread(runs.map((run) => run.unansweredAtEnd)),
      answered: spread(runs.map((run) => run.answered)),
      pinnedSharePct: spread(runs.map((run) => run.pinned?.sharePct)),
      ...groupTarget(cells[group.cell], group.contender, runs),
    };
  });
}

const fmt = (value) => (value === undefined || value === null ? '-' : String(value));

function withSpread(s, never, runs) {
  const text = s.median === undefined ? '' : s.n <= 1 || s.min === s.max ? fmt(s.median) : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
  const missing = never > 0 ? `never in ${never}/${runs}` : '';
  return [text, missing].filter(Boolean).join('; ') || '-';
}

function mdTable(header, rows) {
  const line = (cells) => `| ${cells.map((cell) => String(cell ?? '-').replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), `| ${header.map(() => '---').join(' | ')} |`, ...rows.map(line)].join('\n');
}

export function markdownReport(result) {
  const out = [];
  const p = result.params;
  out.push(`# warden verdict matrix${result.quick ? ' (quick run)' : ''}`);
  out.push('');
  out.push(`- date: ${result.date}; git ${result.git ?? 'unknown'}`);
  out.push(`- machine: node ${result.machine.node}, ${result.machine.cores} cores (${result.machine.cpu}); load average ${result.machine.loadavg1m} at the start`);
  out.push(`- ${p.workers} workers, default flags but \`--balance\`; rounds ${p.rounds}; healthy cells ${p.healthyS} s of traffic, caught cells watched ${p.caughtS} s after the poison (sparse ones ${p.caughtS * 2} s); hosts: ${p.hosts.join(', ')} (busy = ${p.neighbours} CPU-bound neighbour processes)`);
  out.push(`- total ${result.totalS} s; reproduce with \`${result.command}\``);
  out.push('');
  out.push('Seconds for the poisoned cells count from the first request after the poison that got no answer (out of rotation: `inRotation:false` in /workers or the worker gone; replaced: a new worker in its slot in rotation). node:cluster and PM2 have no rotation: their "replaced" is a new child process. Recycles: worker processes that died during the run (reasons from /workers `lastExit`). Quarantines: workers that left rotation while alive. Longest wait: the oldest request a worker held (`oldestInFlightMs`), the evidence that a healthy cell kept a worker waiting past `--stuck-after`. Failed: requests that ended in an error, a client timeout or a non-200; unanswered at end: still waiting when the run ended (a long poll is meant to).');
  out.push('');
  out.push('## Targets');
  out.push('');
  const held = result.summary.filter((row) => row.status === 'held').length;
  const missed = result.summary.filter((row) => row.status === 'missed').length;
  out.push(`${held} rows held, ${missed} missed, ${result.summary.length - held - missed} n/a.`);
  out.push('');
  out.push(mdTable(['cell', 'contender', 'conn', 'host', 'runs', 'recycles per run', 'quarantines per run', 'reasons', 'longest wait s', 'out of rotation s', 'replaced s', 'failed requests', 'unanswered at end', 'target', 'status', 'figure'],
    result.summary.map((row) => [row.cell, row.contender, row.conn, row.host, row.runs, row.recyclesPerRun.join(' '), row.contender.startsWith('warden') ? row.quarantinesPerRun.join(' ') : 'n/a',
      row.reasons.join('; ') || '-', row.contender.startsWith('warden') ? withSpread(row.longestWaitS, 0, row.runs) : 'n/a',
      result.cells[row.cell].kind === 'caught' ? withSpread(row.outOfRotationS, row.neverOut, row.runs) : '-',
      result.cells[row.cell].kind === 'caught' ? withSpread(row.replacedS, row.neverReplaced, row.runs) : '-',
      withSpread(row.failed, 0, row.runs), withSpread(row.unansweredAtEnd, 0, row.runs), row.target, row.status === 'missed' ? '**missed**' : row.status, row.figure])));
  out.push('');
  out.push('## Cells');
  out.push('');
  for (const [name, cell] of Object.entries(result.cells)) out.push(`- \`${name}\` (${cell.kind}): ${cell.label}`);
  out.push('');
  out.push('## Runs');
  out.push('');
  out.push(mdTable(['round', 'cell', 'contender', 'conn', 'host', 'recycles', 'reasons', 'quarantines', 'out of rotation as', 'longest wait s', 'answered', 'failed', 'unanswered at end', 'victim out s', 'victim replaced s', 'victim receiving at end', 'arrivals per pid'],
    result.results.map((r) => [r.round, r.cell, r.contender, r.conn, r.host, r.figures.recycles, r.figures.recycleReasons.join('; ') || '-', r.figures.quarantines, r.figures.quarantineReasons.join('; ') || '-', r.figures.longestWaitS, r.figures.answered, r.figures.failed, r.figures.unansweredAtEnd,
      fmt(r.figures.victim?.outOfRotationS), fmt(r.figures.victim?.replacedS), r.figures.victim === undefined ? '-' : r.figures.victim.stillReceivingAtEnd ? 'yes' : 'no',
      Object.entries(r.figures.arrivals).map(([pid, n]) => `${pid}:${n}`).join(' ')])));
  if (result.errors.length > 0) {
    out.push('');
    out.push('## Runs that failed to run');
    out.push('');
    for (const error of result.errors) out.push(`- ${error}`);
  }
  out.push('');
  return out.join('\n');
}
