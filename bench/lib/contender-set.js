// The contenders of `npm run bench`, each with 2 workers (WORKERS) on the same app and port kind:
// one plain node process (the baseline), node:cluster RR and SCHED_NONE, PM2 cluster mode (private
// PM2_HOME, killed afterwards), and warden in each of its balance modes.

import { pm2Bin, startCluster, startPlain, startPm2, startWarden } from './contenders.js';

export const CONTENDERS = {
  plain: { label: 'single node', start: ({ app }) => startPlain({ app }) },
  'cluster-rr': { label: 'node:cluster RR', start: ({ app, workers }) => startCluster({ workers, sched: 'rr', app }) },
  'cluster-none': { label: 'node:cluster SCHED_NONE', start: ({ app, workers }) => startCluster({ workers, sched: 'none', app }) },
  pm2: { label: 'PM2', start: ({ app, workers }) => startPm2({ workers, app }), available: () => pm2Bin() !== undefined },
  'warden-shared': { label: 'warden --balance shared', start: ({ app, workers }) => startWarden({ workers, app, flags: ['--balance', 'shared'] }) },
  'warden-handoff': { label: 'warden --balance handoff', start: ({ app, workers }) => startWarden({ workers, app, flags: ['--balance', 'handoff'] }) },
};

export const CLUSTER_KEYS = ['cluster-rr', 'cluster-none'];
export const WARDEN_KEYS = ['warden-shared', 'warden-handoff'];

/** Start every wanted contender on `app`; each gets its key and label. */
export async function startAll(keys, { app, workers }) {
  const started = [];
  try {
    for (const key of keys) {
      const spec = CONTENDERS[key];
      if (spec.available !== undefined && !spec.available()) continue;
      const contender = await spec.start({ app, workers });
      if (contender === undefined) continue;
      started.push({ ...contender, key, label: spec.label, stop: () => contender.stop() });
    }
  } catch (error) {
    await stopAll(started);
    throw error;
  }
  return started;
}

export async function stopAll(contenders, log = () => undefined) {
  const stops = await Promise.allSettled(contenders.map((contender) => contender.stop()));
  for (const [i, stop] of stops.entries()) {
    if (stop.status === 'rejected') log(`   could not stop ${contenders[i].label} cleanly (killed at exit): ${stop.reason.message}`);
  }
}
