// The `npm run bench` report: markdown (machine, Node, date, every figure with its spread, which
// targets hold) and an SVG bar chart of the throughput ratios to the better node:cluster policy.

import { LOADS } from './loads.js';

const fmt = (value, digits = 0) => (value === undefined || value === null ? '-' : Number(value).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));

/** "12,345 (11,900-12,800)" */
function withSpread(s, digits = 0) {
  if (s === undefined || s.median === undefined) return '-';
  if (s.n <= 1 || s.min === s.max) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

function mdTable(header, rows) {
  const line = (cells) => `| ${cells.map((cell) => String(cell ?? '-').replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...rows.map(line)].join('\n');
}

function genericTable(rows) {
  if (!Array.isArray(rows) || rows.length === 0 || typeof rows[0] !== 'object') return '```json\n' + JSON.stringify(rows, null, 2) + '\n```';
  const header = Object.keys(rows[0]);
  return mdTable(header, rows.map((row) => header.map((key) => (typeof row[key] === 'object' ? JSON.stringify(row[key]) : row[key]))));
}

/**
 * The summary: one row per app and load, req/s per contender (medians), and warden's ratio to the
 * better node:cluster policy per mode. The README quotes it.
 */
export function summaryTable(result) {
  const keys = result.contenders;
  const wardenKeys = keys.filter((key) => key.startsWith('warden'));
  const hasKernel = keys.includes('reuseport');
  const short = (key) => result.labels[key].replace('warden --balance ', 'warden ');
  const header = ['app, load', ...keys.map((key) => result.labels[key]), ...wardenKeys.map((key) => `${short(key)} / best node:cluster`),
    ...(hasKernel ? wardenKeys.map((key) => `${short(key)} / best of SCHED_NONE, SO_REUSEPORT`) : [])];
  const rows = [];
  for (const block of result.throughput) {
    for (const load of block.loads) {
      const of = (key) => block.rows.find((r) => r.load === load && r.contender === key);
      rows.push([`${block.app.replace('.js', '')}, ${LOADS[load].label}`, ...keys.map((key) => fmt(of(key)?.reqPerSec.median)),
        ...wardenKeys.map((key) => `**${fmt(of(key)?.vsBestCluster.median, 2)}**`),
        ...(hasKernel ? wardenKeys.map((key) => `**${fmt(of(key)?.vsBestKernel?.median, 2)}**`) : [])]);
    }
  }
  return mdTable(header, rows);
}

export function markdownReport(result, { chartFile }) {
  const m = result.machine;
  const out = [];
  out.push(`# warden benchmark report${result.quick ? ' (quick run)' : ''}`);
  out.push('');
  out.push(`- date: ${result.date}`);
  out.push(`- machine: ${m.cores} cores (${m.cpu}); load average ${m.loadavg1m} at the start, ${fmt(result.loadAvgEnd, 2)} at the end, median ${fmt(result.loadAvg?.median, 2)} and max ${fmt(result.loadAvg?.max, 2)} sampled every 10 s`);
  if (result.only === undefined) {
    out.push(`- Node ${m.node}; ${result.params.workers} workers per contender; wrk ${result.wrk ? 'installed' : 'not installed (its loads are skipped)'}`);
    out.push(`- rounds: ${result.params.rounds}, interleaved (the contender order rotates each round), ${result.params.durationS} s per run, ${result.params.connections} connections, ${result.params.warmupS} s warm-up per contender not recorded`);
    out.push(`- figures are medians over the rounds, with the range (min–max) in parentheses; ratios are taken per round against the better node:cluster policy *of the same round*, then the median of those`);
  } else {
    out.push(`- Node ${m.node}; \`${result.only}\` experiment only`);
  }
  out.push(`- total run time ${result.totalS} s (${Object.entries(result.sectionsS ?? {}).map(([name, seconds]) => `${name} ${seconds} s`).join(', ')}); reproduce with \`${result.command}\``);
  for (const [key, reason] of Object.entries(result.skipped ?? {})) out.push(`- ${key} not run: ${reason}`);
  if (result.contention) out.push(`- **taken under contention**: ${result.contention}`);
  out.push('');
  if (result.only === undefined) {
    out.push('## Summary: req/s (median of the rounds)');
    out.push('');
    out.push(summaryTable(result));
    out.push('');
  }
  out.push('## Targets');
  out.push('');
  out.push(mdTable(['target', 'figure', 'status'], result.targets.map((t) => [t.target, t.figure, t.status === 'held' ? 'held' : t.status === 'missed' ? '**missed**' : t.status])));
  out.push('');
  if (result.missing.length > 0) {
    out.push('## Missing figures');
    out.push('');
    for (const line of result.missing) out.push(`- ${line}`);
    out.push('');
  }
  // A run of one experiment alone (`npm run bench -- scale`) reports that experiment only.
  if (result.only === undefined) {
    out.push('## Throughput and latency');
    out.push('');
    if (chartFile) out.push(`![throughput relative to the better node:cluster policy](${chartFile})`);
    out.push('');
    for (const block of result.throughput) {
      for (const load of block.loads) {
        out.push(`### ${block.app.replace('.js', '')}, ${LOADS[load].label}`);
        out.push('');
        const rows = block.rows.filter((r) => r.load === load);
        out.push(mdTable(['contender', 'req/s', '× best node:cluster', '× best of SCHED_NONE, SO_REUSEPORT', '× single node', 'CPU µs/request', 'CPU × leanest node:cluster', 'p50 ms', 'p99 ms', 'errors', 'conn/req', 'served per worker %'],
          rows.map((r) => [r.label, withSpread(r.reqPerSec), withSpread(r.vsBestCluster, 2), withSpread(r.vsBestKernel, 2), withSpread(r.vsPlain, 2), withSpread(r.cpuUsPerRequest), withSpread(r.cpuVsBestCluster, 2), withSpread(r.p50Ms, 1), withSpread(r.p99Ms, 1),
            r.failedRuns > 0 ? `${r.errors} (${r.failedRuns} runs failed)` : r.errors, withSpread(r.connPerReq, 2), r.shares.map((s) => Math.round(s)).join(' / ')])));
        out.push('');
      }
    }
    out.push('`CPU µs/request`: user + system CPU time of all the contender\'s processes (supervisor, workers) during the run, divided by the requests its app processes served; unlike req/s it hardly depends on what else runs on the machine. `CPU × leanest node:cluster` compares it per round with the node:cluster policy that spent less.');
    out.push('');
    out.push('`conn/req` is counted by the app itself (1.00: a new TCP connection per request; ~0: keep-alive). `served per worker` is the fairness figure: requests per worker over all rounds, busiest first.');
    out.push('');
    if (result.mixed !== undefined) {
      out.push('## Mixed load: one request in 1,000 blocks its worker for 100 ms');
      out.push('');
      out.push(`${result.params.mixedLoops} loops of \`http.get\` with \`agent: false\` and \`Connection: close\`, ${result.params.mixedDurationS} s per round. "fast" excludes the blocking requests themselves.`);
      out.push('');
      out.push(mdTable(['contender', 'req/s', 'fast p50 ms', 'fast p99 ms', 'fast p99.9 ms', 'blocking requests', 'errors', 'served per worker'],
        result.mixed.rows.map((r) => [r.label, withSpread(r.reqPerSec), withSpread(r.fastP50Ms, 1), withSpread(r.fastP99Ms, 1), withSpread(r.fastP999Ms, 1), r.slow, r.errors, r.servedPerWorker.join(' / ')])));
      out.push('');
    }
    out.push('## Startup: from spawn to every worker answering');
    out.push('');
    out.push(mdTable(['contender', 'ms (median, range over the starts)'], result.contenders.map((key) => [result.labels[key], withSpread(result.startup[key])])));
    out.push('');
    out.push('## Frozen, busy and poisoned worker');
    out.push('');
    if (result.freeze === undefined) out.push('Not run (`--skip freeze`).');
    else {
      out.push(`bench/freeze.js, warden \`--timeout ${result.freeze.params.wardenTimeoutS} --stuck-after ${result.freeze.params.wardenStuckAfterS}\`, window ${result.freeze.params.windowS} s after the fault. Seconds are counted from the fault; "never" = not within the window.`);
      out.push('');
      const s = (value) => (value === undefined || value === null ? 'never' : Number(value).toFixed(1));
      out.push(mdTable(['fault', 'contender', 'health green for s', 'replaced after s', 'failed keep-alive', 'failed new-conn', 'new-conn req/s before', 'last 3 s'],
        result.freeze.results.map((r) => [r.fault, r.label, s(r.falseGreenS), s(r.replacedS), r.load.keepalive.failedAfterFault, r.load.newconn.failedAfterFault, r.load.newconn.reqPerSecBefore, r.load.newconn.reqPerSecLast3s])));
    }
    out.push('');
    out.push('## Memory');
    out.push('');
    if (result.memory === undefined) out.push('Not run: bench/memory.js is not in this tree (the hook in bench/run.js calls its `runMemory()` when it is).');
    else {
      out.push('RSS from /proc/<pid>/status, idle 3 s after every worker answered, then after the load; "over plain" is a worker\'s RSS less the plain node process\'s.');
      if (result.memory.note) out.push('', result.memory.note);
      out.push('');
      const mb = (value) => (value === undefined || value === null ? '-' : Number(value).toFixed(1));
      const supervisor = (row, value) => (row.contender === 'plain' ? '-' : mb(value));
      out.push(mdTable(['contender', 'startup ms', 'supervisor MB idle', 'worker MB idle', 'worker over plain MB idle', 'supervisor MB loaded', 'worker MB loaded', 'worker over plain MB loaded'],
        result.memory.summary.map((row) => [row.contender, row.startupMs, supervisor(row, row.idlePrimaryMb), mb(row.idleWorkerMb), mb(row.idleWorkerOverPlainMb), supervisor(row, row.loadedPrimaryMb), mb(row.loadedWorkerMb), mb(row.loadedWorkerOverPlainMb)])));
    }
    out.push('');
    out.push('## Rolling reload under load');
    out.push('');
    out.push(result.reload.ran ? genericTable(result.reload.rows) : `Not run: ${result.reload.reason}.`);
    out.push('');
  }
  out.push(...scaleSection(result.scale));
  out.push('');
  return out.join('\n');
}

/** The fleet-size experiment: one row per worker count and contender. */
function scaleSection(scale) {
  const out = ['## Scale: what the fleet size costs the primary', ''];
  if (scale === undefined) return [...out, 'Not run (`--skip scale`).'];
  const p = scale.params;
  out.push(`bench/scale.js: warden (default \`--balance\`) and node:cluster SCHED_NONE on the hello app, started one after the other (the order alternates), ${p.rounds} round(s), median shown. `
    + `Idle CPU: the primary's utime + stime over ${p.idleS} s, ${p.settleS} s after every worker answered; load CPU: the same during ${p.loadS} s of autocannon keep-alive load (${p.connections} connections); `
    + `/workers and /metrics: ${p.adminRequests} GETs each, one after the other, on new connections; reload: \`warden reload\` until /workers shows every worker on the new generation, ready and in rotation. `
    + 'CPU percentages are shares of one core.');
  out.push('');
  out.push(mdTable(['workers', 'contender', 'every worker answering ms', 'primary CPU idle %', 'primary CPU under load %', 'req/s under load', 'primary RSS MB', 'worker RSS MB', '/workers p50 / p99 ms', '/metrics p50 / p99 ms', 'reload ms'],
    scale.rows.map((r) => [r.workers, r.failed.length > 0 ? `${r.label} (failed: ${r.failed.join('; ')})` : r.label, fmt(r.startupMs), fmt(r.idleCpuPercent, 2), fmt(r.loadCpuPercent, 2), fmt(r.loadReqPerSec), fmt(r.primaryRssMb, 1), fmt(r.workerRssMb, 1),
      r.workersP50Ms === undefined ? '-' : `${fmt(r.workersP50Ms, 1)} / ${fmt(r.workersP99Ms, 1)}`, r.metricsP50Ms === undefined ? '-' : `${fmt(r.metricsP50Ms, 1)} / ${fmt(r.metricsP99Ms, 1)}`, r.reloadMs === undefined ? '-' : fmt(r.reloadMs)])));
  return out;
}

const COLORS = { plain: '#9e9e9e', 'cluster-rr': '#5c6bc0', 'cluster-none': '#26a69a', reuseport: '#7cb342', pm2: '#ef6c00', 'warden-shared': '#c62828', 'warden-handoff': '#ec8b8b' };

function escapeXml(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Horizontal bars: each contender's req/s as a multiple of the better node:cluster policy, per app and load. */
export function ratioChart(result) {
  const groups = [];
  for (const block of result.throughput) {
    for (const load of block.loads) groups.push({ title: `${block.app.replace('.js', '')}, ${LOADS[load].label}`, rows: block.rows.filter((r) => r.load === load) });
  }
  const barH = 11;
  const left = 190;
  const width = 760;
  const scaleMax = Math.max(1.6, ...groups.flatMap((g) => g.rows.map((r) => r.vsBestCluster.max ?? 0))) * 1.05;
  const x = (ratio) => left + ((width - left - 60) * ratio) / scaleMax;
  let y = 48;
  const parts = [];
  for (const group of groups) {
    parts.push(`<text x="8" y="${y + 10}" font-weight="bold">${escapeXml(group.title)}</text>`);
    y += 16;
    for (const row of group.rows) {
      const ratio = row.vsBestCluster.median ?? 0;
      parts.push(`<text x="${left - 6}" y="${y + barH - 2}" text-anchor="end">${escapeXml(row.label)}</text>`);
      parts.push(`<rect x="${left}" y="${y}" width="${Math.max(0, x(ratio) - left).toFixed(1)}" height="${barH}" fill="${COLORS[row.contender] ?? '#666'}"/>`);
      if (row.vsBestCluster.min !== undefined && row.vsBestCluster.max !== undefined) {
        parts.push(`<line x1="${x(row.vsBestCluster.min).toFixed(1)}" x2="${x(row.vsBestCluster.max).toFixed(1)}" y1="${y + barH / 2}" y2="${y + barH / 2}" stroke="#000" stroke-width="1"/>`);
      }
      parts.push(`<text x="${(x(Math.max(ratio, row.vsBestCluster.max ?? 0)) + 4).toFixed(1)}" y="${y + barH - 2}">${ratio.toFixed(2)}</text>`);
      y += barH + 3;
    }
    y += 10;
  }
  const top = 36;
  const guides = [0.97, 1].map((ratio) => `<line x1="${x(ratio).toFixed(1)}" x2="${x(ratio).toFixed(1)}" y1="${top}" y2="${y}" stroke="${ratio === 1 ? '#000' : '#c62828'}" stroke-dasharray="${ratio === 1 ? '' : '4 3'}" stroke-width="1"/>`
    + `<text x="${(x(ratio) + (ratio === 1 ? 3 : -3)).toFixed(1)}" y="${top + 8}" text-anchor="${ratio === 1 ? 'start' : 'end'}">${ratio === 1 ? '1.00' : '0.97'}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 24}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<text x="8" y="14" font-size="13" font-weight="bold">req/s as a multiple of the better node:cluster policy (RR or SCHED_NONE), same round</text>
<text x="8" y="28">median of ${result.params.rounds} round(s), black line: range. Node ${escapeXml(result.machine.node)}, ${result.machine.cores} cores, ${escapeXml(result.date.slice(0, 10))}${result.contention ? ', taken under contention' : ''}</text>
${guides.join('\n')}
${parts.join('\n')}
</svg>
`;
}
