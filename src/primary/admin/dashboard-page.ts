// The live dashboard served on GET / of the admin port: one self-contained page (inline CSS and
// script, no external fetches, works offline) that polls the read-only admin endpoints. A worker
// whose heartbeat is late turns red from its heartbeat age alone, before the supervisor's verdict.
// Each worker card charts its event-loop utilisation (ELU) over the last minute on a fixed 0-100 %
// axis, so cards compare at a glance; with --workers MIN..MAX the header shows the last decision.

/** Poll /workers this often; with 250 ms heartbeats a frozen worker shows red within a second. */
const POLL_MS = 250;

const STYLE = `
:root{color-scheme:light dark;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--fg:#1f2328;--muted:#656d76;--bg:#fff;--card:#f6f8fa;--line:#d0d7de}
@media (prefers-color-scheme:dark){:root{--ok:#3fb950;--warn:#d29922;--bad:#f85149;--fg:#e6edf3;--muted:#8d96a0;--bg:#0d1117;--card:#161b22;--line:#30363d}}
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:12px 16px;border-bottom:1px solid var(--line);display:flex;flex-wrap:wrap;gap:8px 16px;align-items:baseline}
h1{font-size:18px;margin:0}h2{font-size:15px;margin:16px 0 8px}.muted{color:var(--muted)}
main{padding:0 16px 24px;max-width:1200px}
#workers{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px;margin-top:12px}
.worker{background:var(--card);border:2px solid var(--line);border-radius:8px;padding:10px 12px}
.worker.ok{border-color:var(--ok)}.worker.warn{border-color:var(--warn)}.worker.bad{border-color:var(--bad);background:color-mix(in srgb,var(--bad) 12%,var(--card))}
.worker .top{display:flex;justify-content:space-between;gap:8px}.state{font-weight:600}
.ok .state{color:var(--ok)}.warn .state{color:var(--warn)}.bad .state{color:var(--bad)}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 10px;margin:8px 0}dt{color:var(--muted)}dd{margin:0;font-variant-numeric:tabular-nums}
svg{width:100%;height:32px;display:block}svg polyline{fill:none;stroke-width:1.5}
.spark-label{font-size:12px;color:var(--muted)}
.elu-chart{display:grid;grid-template-columns:auto 1fr;gap:0 4px;font-size:10px;color:var(--muted)}
.elu-chart .axis-y{display:flex;flex-direction:column;justify-content:space-between;text-align:right;height:48px;line-height:1}
.elu-chart svg{height:48px;border-left:1px solid var(--line);border-bottom:1px solid var(--line)}
.elu-chart svg line{stroke:var(--line);stroke-width:0.5;stroke-dasharray:2 2}
.elu-chart .axis-x{grid-column:2;display:flex;justify-content:space-between}
#incidents details{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:6px 10px;margin-bottom:6px}
pre{white-space:pre-wrap;word-break:break-word;font-size:12px;margin:6px 0 0}
#events{list-style:none;padding:0;margin:0;font-size:13px}#events li{padding:3px 0;border-bottom:1px solid var(--line)}
#events .error{color:var(--bad)}#events .warn{color:var(--warn)}
#conn{font-weight:600}
.suspicion{margin:4px 0;color:var(--warn)}
`;

const SCRIPT = `
const POLL_MS = ${POLL_MS};
const history = new Map();
let last;
const $ = (id) => document.getElementById(id);
const esc = (text) => String(text).replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const dur = (ms) => { const s = Math.floor(ms / 1000); return s < 60 ? s + 's' : s < 3600 ? Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's' : Math.floor(s / 3600) + 'h' + String(Math.floor(s % 3600 / 60)).padStart(2, '0') + 'm'; };
const mb = (b) => b == null ? '-' : Math.round(b / 1048576) + ' MB';
// Silent for 600 ms past when its next heartbeat was due (an idle worker announces a later one).
const silent = (w) => w.heartbeatAgeMs != null && w.heartbeatAgeMs >= 600 + (w.heartbeatDelayedMs ?? 0);
function health(w) {
  const beating = !silent(w);
  if (w.state === 'ready' && !w.suspicion && beating) return 'ok';
  if ((w.state === 'ready' || w.state === 'quarantined' || w.state === 'booting' || w.state === 'draining' || w.state === 'stopping') && beating) return 'warn';
  return 'bad';
}
function suspicionLine(s, state) {
  if (!s) return '';
  const head = state !== 'ready' && state !== 'quarantined' ? 'recycled on evidence' : s.isQuarantined ? 'quarantined ' + dur(s.quarantinedForMs ?? s.suspectForMs) + ': out of rotation, still serving' : 'suspect ' + dur(s.suspectForMs) + ': kept in rotation, the last worker in it';
  return '<div class="suspicion" data-quarantined="' + s.isQuarantined + '"><strong>' + esc(head) + '</strong><div class="muted">' + esc(s.evidence ?? s.reason) + '</div></div>';
}
function spark(values, colour) {
  if (values.length < 2) return '<svg viewBox="0 0 100 32"></svg>';
  const max = Math.max(1, ...values);
  const points = values.map((v, i) => (i * 100 / (values.length - 1)).toFixed(1) + ',' + (31 - v / max * 30).toFixed(1)).join(' ');
  return '<svg viewBox="0 0 100 32" preserveAspectRatio="none"><polyline stroke="' + colour + '" points="' + points + '"/></svg>';
}
/** ELU 0..1 on a fixed axis (0, 50, 100 %) and a time axis of the seconds shown: the same scale on every card. */
function eluChart(values) {
  const points = values.length < 2 ? '' : values.map((v, i) => (i * 100 / (values.length - 1)).toFixed(1) + ',' + (47 - Math.min(1, Math.max(0, v)) * 46).toFixed(1)).join(' ');
  return '<div class="elu-chart" data-elu-points="' + values.length + '"><div class="axis-y"><span>100%</span><span>50%</span><span>0%</span></div>' +
    '<svg viewBox="0 0 100 48" preserveAspectRatio="none"><line x1="0" y1="24" x2="100" y2="24"/><line x1="0" y1="1" x2="100" y2="1"/>' +
    (points ? '<polyline stroke="var(--ok)" points="' + points + '"/>' : '') + '</svg>' +
    '<div class="axis-x"><span>' + (values.length > 1 ? '-' + (values.length - 1) + 's' : '') + '</span><span>now</span></div></div>';
}
function track(w, at) {
  if (w.pid == null) return;
  const key = w.pid;
  let h = history.get(key);
  if (!h) { h = { served: w.served, at, rps: [], loop: [], elu: [] }; history.set(key, h); }
  const seconds = (at - h.at) / 1000;
  if (seconds >= 0.9) {
    h.rps.push(Math.max(0, w.served - h.served) / seconds); h.served = w.served; h.at = at;
    h.loop.push(w.loopDelayMs ?? 0);
    h.elu.push(w.eventLoopUtilization ?? 0);
    if (h.rps.length > 60) { h.rps.shift(); h.loop.shift(); h.elu.shift(); }
  }
  return h;
}
function renderWorkers(body) {
  const at = performance.now();
  const p = body.primary;
  const q = body.acceptQueue;
  const a = p.autoscale;
  $('primary').textContent = 'pid ' + p.pid + ' · ' + p.module + ' · ' + p.phase + ' · up ' + dur(p.uptimeMs) + ' · http://' + p.listen.host + ':' + p.listen.port +
    (q && q.length != null ? ' · accept queue ' + q.length + '/' + q.backlog : '') + (p.fleetUtilization == null ? '' : ' · fleet ELU ' + Math.round(p.fleetUtilization * 100) + '%');
  $('autoscale').textContent = !a ? '' : 'autoscale ' + a.min + '..' + a.max + (a.ceiling < a.max ? ' (at most ' + a.ceiling + ': ' + a.limitedBy + ')' : '') + ' · target ' + p.workersTarget +
    (a.last ? ' · last: ' + a.last.change + ' ' + a.last.from + ' → ' + a.last.workers + ' (' + a.last.reason + ')' : ' · no decision yet');
  const live = new Set();
  $('workers').innerHTML = body.workers.map((w) => {
    live.add(w.pid);
    const h = track(w, at) || { rps: [], loop: [], elu: [] };
    const cls = health(w);
    const late = silent(w) ? ' (no heartbeat for ' + (w.heartbeatAgeMs / 1000).toFixed(1) + 's)' : '';
    const rps = h.rps.length ? h.rps[h.rps.length - 1].toFixed(1) : '-';
    return '<section class="worker ' + cls + '" data-slot="' + w.slot + '" data-pid="' + (w.pid ?? '') + '" data-health="' + cls + '">' +
      '<div class="top"><strong>worker ' + w.slot + (w.generation > 1 ? ' g' + w.generation : '') + '</strong><span class="muted">pid ' + (w.pid ?? '-') + '</span></div>' +
      '<div class="state">' + esc(w.state) + esc(late) + '</div>' + (w.suspicion ? suspicionLine(w.suspicion, w.state) : w.reason ? '<div class="muted">' + esc(w.reason) + '</div>' : '') +
      '<dl><dt>uptime</dt><dd>' + (w.pid == null ? '-' : dur(w.uptimeMs)) + '</dd><dt>req/s</dt><dd>' + rps + '</dd><dt>in flight</dt><dd>' + w.inFlight + '</dd>' +
      '<dt>loop delay</dt><dd>' + (w.loopDelayMs == null ? '-' : (Math.round(w.loopDelayMs * 10) / 10) + ' ms') + '</dd>' +
      '<dt>ELU</dt><dd class="elu-value">' + (w.eventLoopUtilization == null ? '-' : Math.round(w.eventLoopUtilization * 100) + '%' + (w.saturated ? ' saturated' : '')) + '</dd><dt>RSS</dt><dd>' + mb(w.rssBytes) + '</dd>' +
      '<dt>restarts</dt><dd>' + w.restarts + '</dd><dt>last exit</dt><dd>' + esc(w.lastExit ? w.lastExit.reason : '-') + '</dd></dl>' +
      '<div class="spark-label">event-loop utilization</div>' + eluChart(h.elu) +
      '<div class="spark-label">req/s</div>' + spark(h.rps, 'var(--ok)') + '<div class="spark-label">loop delay</div>' + spark(h.loop, 'var(--warn)') +
      '</section>';
  }).join('');
  for (const key of history.keys()) if (!live.has(key)) history.delete(key);
}
function renderIncidents(body) {
  const list = body.incidents.slice(-20).reverse();
  $('incidents').innerHTML = list.length === 0 ? '<p class="muted">none</p>' : list.map((i) =>
    '<details><summary>' + esc(i.at || '') + ' · worker ' + i.slot + ' (pid ' + i.pid + ') · <strong>' + esc(i.kind) + '</strong>: ' + esc(i.reason) + '</summary>' +
    (i.stack ? '<pre>' + esc(i.stack) + '</pre>' : i.noStack ? '<p class="muted">' + esc(i.noStack) + '</p>' : '') +
    (i.error && i.error.stack ? '<pre>' + esc(i.error.stack) + '</pre>' : '') +
    (i.requests && i.requests.requests ? '<pre>' + esc(i.requests.requests.map((r) => r.method + ' ' + r.path + ' ' + r.ageMs + 'ms').join('\\n')) + '</pre>' : '') +
    '</details>').join('');
}
function renderEvents(body) {
  $('events').innerHTML = body.events.slice(-40).reverse().map((e) =>
    '<li class="' + esc(e.level) + '"><span class="muted">' + esc(e.at.slice(11, 23)) + '</span> ' + esc(e.msg) + '</li>').join('');
}
async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  return res.json();
}
let ticks = 0;
async function poll() {
  try {
    renderWorkers(await getJson('/workers'));
    if (ticks % 4 === 0) { renderEvents(await getJson('/events')); renderIncidents(await getJson('/incidents')); }
    $('conn').textContent = 'live'; $('conn').style.color = 'var(--ok)';
  } catch (error) {
    $('conn').textContent = 'primary not answering'; $('conn').style.color = 'var(--bad)';
  }
  ticks += 1;
  setTimeout(poll, POLL_MS);
}
poll();
`;

export function dashboardPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>warden</title><style>${STYLE}</style></head>
<body><header><h1>warden</h1><span id="primary" class="muted">connecting…</span><span id="autoscale" class="muted"></span><span id="conn"></span></header>
<main><div id="workers"></div>
<h2>Incidents</h2><div id="incidents"><p class="muted">none</p></div>
<h2>Supervisor events</h2><ul id="events"></ul></main>
<script>${SCRIPT}</script></body></html>
`;
}
