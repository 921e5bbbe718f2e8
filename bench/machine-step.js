// `npm run bench -- machine`: the pure state machine's cost per event, micro. WORKERS (32) ready
// workers each send a heartbeat every 250 ms of simulated time, with a Tick every 50 ms, for
// EVENTS (100000) events; reports events per second and microseconds per heartbeat. No processes.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './lib/contenders.js';
import { envNumber, machine, round } from './lib/report.js';

const CONFIG = {
  appLabel: 'app.js', workers: 32, bootTimeoutMs: 30_000, timeoutMs: 5000, lateMs: 1000, gracefulTimeoutMs: 30_000, stuckAfterMs: 10_000,
  probeFailures: 3, maxRestarts: 3, backoff: { initialMs: 100, maxMs: 10_000, resetAfterMs: 10_000 }, killAfterMs: 2000, captureStacks: false,
  captureTimeoutMs: 1500, maxMemoryBytes: 0, heapSnapshotOnRecycle: false, probeEnabled: false, maxRequests: 0, maxRequestsJitter: 0,
};

function beat(served, now) {
  return {
    loopDelayMs: 1, inFlight: 1, oldestWaitingMs: 2, waiting: 0, served, lastFinishedAgoMs: 3, unansweredCount: 0, unansweredForMs: 0,
    slowestRecentMs: 12, answeredRecent: 40, loopPausedAgoMs: -1, timedOut: 0, consecutiveTimeouts: 0, connections: 4, rssBytes: 50e6, heapUsedBytes: 10e6,
    http: { total: served, byStatus: {} }, at: now,
  };
}

export async function runMachineStep(log = () => {}) {
  const workers = envNumber('WORKERS', 32, { min: 1, integer: true });
  const events = envNumber('EVENTS', 100_000, { min: 1000, integer: true });
  const { initialState, step } = await import(pathToFileURL(join(ROOT, 'dist', 'src', 'primary', 'machine', 'index.js')).href);
  let state = initialState({ ...CONFIG, workers }, 0);
  let now = 0;
  let result = step(state, { type: 'Tick' }, now);
  state = result.state;
  let pid = 100;
  for (const effect of result.effects) if (effect.type === 'Spawn') state = step(state, { type: 'WorkerSpawned', id: effect.id, pid: pid++ }, now).state;
  for (const worker of [...state.workers]) state = step(state, { type: 'WorkerReady', id: worker.id }, now).state;
  const ids = state.workers.map((worker) => worker.id);
  const run = (count) => {
    let sent = 0;
    let served = 0;
    const started = process.hrtime.bigint();
    while (sent < count) {
      now += 50;
      if (now % 250 === 0) {
        served += 1;
        for (const id of ids) { state = step(state, { type: 'HeartbeatReceived', id, stats: beat(served, now) }, now).state; sent++; }
      }
      state = step(state, { type: 'Tick' }, now).state;
      sent++;
    }
    return { sent, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  };
  run(Math.min(20_000, events)); // warm-up
  const { sent, seconds } = run(events);
  const inRotation = state.workers.filter((worker) => worker.state === 'ready').length;
  if (inRotation !== workers) throw new Error(`expected ${workers} ready workers at the end, found ${inRotation}`);
  const eventsPerSecond = round(sent / seconds, 0);
  log(`machine step: ${workers} workers, ${sent} events in ${round(seconds, 2)}s: ${eventsPerSecond} events/s, ${round((seconds / sent) * 1e6, 1)} us/event (${machine().node ?? process.version})`);
  return { workers, events: sent, seconds: round(seconds, 3), eventsPerSecond, usPerEvent: round((seconds / sent) * 1e6, 2) };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await runMachineStep((line) => process.stdout.write(`${line}\n`));
