// Pure parts of the soak (bench/soak.js), no I/O and no clock: the seeded random source, which chaos
// action comes next, which worker held a request (from the workers' connection logs), which failed
// requests a fault explains, and the verdict. Times are milliseconds since the epoch.

/** The kinds of chaos, how often each is picked, and whether a request it hits may fail. */
export const ACTIONS = {
  kill: { weight: 3, label: 'SIGKILL', mayFailRequests: true },
  stop: { weight: 2, label: 'SIGSTOP', mayFailRequests: true },
  spin: { weight: 2, label: 'busy loop (/spin)', mayFailRequests: true },
  poison: { weight: 1, label: 'poisoned (/poison)', mayFailRequests: true },
  leak: { weight: 1, label: 'memory leak (/leak, --max-memory)', mayFailRequests: false },
  reload: { weight: 1, label: 'reload (warden reload)', mayFailRequests: false },
  scale: { weight: 1, label: 'scale (warden scale +1/-1)', mayFailRequests: false },
};

/** Slack for comparing the soak's clock with a worker's Date.now() (same machine, separate reads). */
const CLOCK_SLACK_MS = 50;

/** mulberry32: a small seeded generator, so a run can be repeated with --seed. Returns [0, 1). */
export function createRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The next action: a kind by weight, then for a scale the step (+1 or -1 within [min, max]). A scale
 * that would leave the bounds either way is never picked.
 */
export function chooseAction(random, { target, min, max }) {
  const canGrow = target < max;
  const canShrink = target > min;
  const kinds = Object.keys(ACTIONS).filter((kind) => kind !== 'scale' || canGrow || canShrink);
  const total = kinds.reduce((sum, kind) => sum + ACTIONS[kind].weight, 0);
  let roll = random() * total;
  let kind = kinds[kinds.length - 1];
  for (const each of kinds) {
    roll -= ACTIONS[each].weight;
    if (roll < 0) {
      kind = each;
      break;
    }
  }
  if (kind !== 'scale') return { kind };
  const step = canGrow && canShrink ? (random() < 0.5 ? 1 : -1) : canGrow ? 1 : -1;
  return { kind, step };
}

/** Milliseconds to wait before the next action: uniform in [minMs, maxMs). */
export function pauseMs(random, minMs, maxMs) {
  return minMs + random() * (maxMs - minMs);
}

/**
 * Index the workers' connection logs: { pid -> "port ms\n" lines } -> port -> [{ at, pid }] by time.
 * A port is reused over a long run, so a look-up also needs the time.
 */
export function indexConnections(logs) {
  const byPort = new Map();
  for (const [pid, text] of Object.entries(logs)) {
    for (const line of text.split('\n')) {
      const [port, at] = line.split(' ').map(Number);
      if (!Number.isInteger(port) || !Number.isFinite(at)) continue;
      if (!byPort.has(port)) byPort.set(port, []);
      byPort.get(port).push({ at, pid: Number(pid) });
    }
  }
  for (const entries of byPort.values()) entries.sort((a, b) => a.at - b.at);
  return byPort;
}

/**
 * The pid of the worker that held a request's connection, or undefined if no worker logged it. A
 * new-connection request's connection was opened for it: the first connection on its local port
 * that a worker logged after the request began (a later one on the same port is a reuse of the port
 * once this one had closed). A keep-alive request's connection may be older: the last one on its
 * port logged before the request ended.
 */
export function workerOf(index, request) {
  const entries = index.get(request.localPort);
  if (entries === undefined) return undefined;
  if (request.mode === 'newconn') {
    return entries.find((entry) => entry.at >= request.start - CLOCK_SLACK_MS && entry.at <= request.end + CLOCK_SLACK_MS)?.pid;
  }
  let found;
  for (const entry of entries) {
    if (entry.at > request.end + CLOCK_SLACK_MS) break;
    found = entry;
  }
  return found?.pid;
}

/** What the workers logged on a port around a request, for reading an unexplained failure. */
export function loggedAround(index, request, marginMs = 5000) {
  return (index.get(request.localPort) ?? [])
    .filter((entry) => entry.at >= request.start - marginMs && entry.at <= request.end + marginMs)
    .map((entry) => ({ pid: entry.pid, msAfterStart: entry.at - request.start }));
}

/**
 * How long after each fault its worker may still be handed requests that then fail: the verdict that
 * takes it out of rotation is due by then (the exit of a killed worker at once, a frozen one after
 * --timeout, a poisoned one after --stuck-after), plus `slackMs` for the primary's tick and a loaded
 * machine. A request that began on the victim later than this shows a sick worker left in rotation.
 */
export function verdictDeadlinesMs({ timeoutMs, stuckAfterMs, slackMs = 2000 }) {
  return { kill: slackMs, stop: timeoutMs + slackMs, spin: timeoutMs + slackMs, poison: stuckAfterMs + slackMs };
}

/**
 * Each failed request is explained when the worker that held its connection was faulted by then: a
 * fault that may fail requests hit that pid at or before the request's end. The connection lives
 * and dies with that one process, so a request the client puts on it after the victim died (before
 * the client has read the reset) fails by the same fault. Which worker held it comes from the
 * workers' connection logs, or else from the kernel: a fault's `held` lists the client ports of the
 * connections its victim held just after it (read from /proc), which include one the victim had
 * accepted but not yet told its app of. A request that began after the fault's verdict deadline
 * (`deadlinesMs`, from verdictDeadlinesMs) is not explained by it. Anything else is unexplained: a
 * request lost by a reload, a scale, a graceful recycle, on a healthy worker, or on a sick one left
 * in rotation too long.
 */
export function attributeFailures(failures, faults, index, deadlinesMs) {
  const explained = [];
  const unexplained = [];
  const overlaps = (request, fault) => ACTIONS[fault.kind].mayFailRequests && request.end >= fault.at &&
    request.start <= fault.at + deadlinesMs[fault.kind];
  for (const request of failures) {
    const pid = workerOf(index, request);
    const logged = pid === undefined ? undefined : faults.find((each) => each.pid === pid && overlaps(request, each));
    // A new connection opened after the list was read is not the one the list names (same port, later).
    const held = logged !== undefined ? undefined : faults.find((each) => (each.held ?? []).includes(request.localPort) &&
      overlaps(request, each) && (request.mode !== 'newconn' || request.start <= each.at));
    const fault = logged ?? held;
    if (fault === undefined) unexplained.push({ ...request, pid });
    else explained.push({ ...request, pid: fault.pid, kind: fault.kind, ...(held === undefined ? {} : { seenBy: 'kernel' }) });
  }
  return { explained, unexplained };
}

export const RSS_SAMPLE_S = 5;
export const RSS_WARM_MINUTE = 5;
export const RSS_FLAT_BOUND_MB = 2;

/**
 * The primary's RSS per minute (median of the 5-s samples in each full minute, sample i taken i x 5 s
 * in) and its growth from minute `fromMinute` (warm-up over) to the last full minute: the issue's
 * "flat after warm-up" bound. Not measured when the soak is too short to have minutes after it.
 */
export function rssGrowth(every5s, { fromMinute = RSS_WARM_MINUTE, boundMb = RSS_FLAT_BOUND_MB } = {}) {
  const perMinute = [];
  const perMinuteSamples = 60 / RSS_SAMPLE_S;
  for (let minute = 1; minute * perMinuteSamples < every5s.length; minute++) {
    const window = every5s.slice((minute - 1) * perMinuteSamples + 1, minute * perMinuteSamples + 1).filter((mb) => typeof mb === 'number').sort((a, b) => a - b);
    perMinute.push(window.length === 0 ? null : window[Math.floor(window.length / 2)]);
  }
  const toMinute = perMinute.length;
  if (toMinute <= fromMinute || perMinute[fromMinute - 1] === null || perMinute[toMinute - 1] === null) {
    return { perMinute, fromMinute, toMinute, growthMb: null, boundMb, status: `not measured (needs more than ${fromMinute} minutes: --minutes 30)` };
  }
  const growthMb = Math.round((perMinute[toMinute - 1] - perMinute[fromMinute - 1]) * 10) / 10;
  return { perMinute, fromMinute, toMinute, growthMb, boundMb, status: growthMb < boundMb ? 'held' : 'missed' };
}

/** What is wrong with a finished soak, one sentence each; an empty list means it passed. */
export function problems(summary) {
  const found = [];
  if (summary.earlyExit !== undefined) found.push(`warden exited ${summary.earlyExit.at} s into the soak (${summary.earlyExit.signal ?? summary.earlyExit.code}), before it was stopped`);
  if (summary.requests.unexplained > 0) found.push(`${summary.requests.unexplained} failed request(s) were not in flight on a faulted worker`);
  if (summary.requests.answered === 0) found.push('no request was answered');
  if (!summary.workers.allReady) found.push(`not every worker was ready at the end (${summary.workers.ready} of ${summary.workers.target})`);
  if (summary.faultsUnresolved > 0) found.push(`${summary.faultsUnresolved} faulted worker(s) were still alive at the end`);
  for (const failure of summary.actionFailures) found.push(failure);
  if (summary.earlyExit === undefined && summary.exit.code !== 0) found.push(`warden exited with ${summary.exit.signal ?? summary.exit.code} after SIGTERM (expected 0)`);
  if (summary.orphans.length > 0) found.push(`${summary.orphans.length} process(es) of warden's tree outlived it: ${summary.orphans.join(', ')}`);
  if (summary.rssMb.end !== undefined && summary.rssMb.start !== undefined && summary.rssMb.end - summary.rssMb.start > summary.rssMb.maxGrowth) {
    found.push(`the primary's RSS grew by ${(summary.rssMb.end - summary.rssMb.start).toFixed(1)} MB (bound ${summary.rssMb.maxGrowth} MB)`);
  }
  return found;
}
