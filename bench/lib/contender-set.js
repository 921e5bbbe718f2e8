// The contenders of `npm run bench`, each with 2 workers (WORKERS) on the same app and port kind:
// one plain node process (the baseline), node:cluster RR and SCHED_NONE, N processes sharing the
// port with SO_REUSEPORT (Node >= 22.12; skipped with its reason before), PM2 cluster mode (private
// PM2_HOME, killed afterwards), and warden in each of its balance modes.

import { pm2Bin, reusePortSkipReason, startCluster, startPlain, startPm2, startReusePort, startWarden } from './contenders.js';

export const CONTENDERS = {
  plain: { label: 'single node', start: ({ app }) => startPlain({ app }) },
  'cluster-rr': { label: 'node:cluster RR', start: ({ app, workers }) => startCluster({ workers, sched: 'rr', app }) },
  'cluster-none': { label: 'node:cluster SCHED_NONE', start: ({ app, workers }) => startCluster({ workers, sched: 'none', app }) },
  reuseport: { label: 'SO_REUSEPORT', start: ({ app, workers }) => startReusePort({ workers, app }), skipReason: reusePortSkipReason },
  pm2: { label: 'PM2', start: ({ app, workers }) => startPm2({ workers, app }), available: () => pm2Bin() !== undefined },
  'warden-shared': { label: 'warden --balance shared', start: ({ app, workers }) => startWarden({ workers, app, flags: ['--balance', 'shared'] }) },
  'warden-handoff': { label: 'warden --balance handoff', start: ({ app, workers }) => startWarden({ workers, app, flags: ['--balance', 'handoff'] }) },
};

export const CLUSTER_KEYS = ['cluster-rr', 'cluster-none'];
export const WARDEN_KEYS = ['warden-shared', 'warden-handoff'];
/** The contenders where every worker accepts for itself (no primary in the path): warden's bar to clear. */
export const KERNEL_KEYS = ['cluster-none', 'reuseport'];

/** { key: reason } for the wanted contenders that cannot run on this Node or OS (not a failure). */
export function skippedContenders(keys) {
  const skipped = {};
  for (const key of keys) {
    const reason = CONTENDERS[key].skipReason?.();
    if (reason !== undefined) skipped[key] = reason;
  }
  return skipped;
}

/**
 * Start every wanted contender on `app`; each gets its key and label. `parallel` (the quick run)
 * starts them all at once: faster, but their startup times then include each other's.
 */
export async function startAll(keys, { app, workers, parallel = false }) {
  const skipped = skippedContenders(keys);
  const wanted = keys.filter((key) => (CONTENDERS[key].available === undefined || CONTENDERS[key].available()) && skipped[key] === undefined);
  const startOne = async (key) => {
    const contender = await CONTENDERS[key].start({ app, workers });
    return contender === undefined ? undefined : { ...contender, key, label: CONTENDERS[key].label, stop: () => contender.stop() };
  };
  const started = [];
  let failure;
  if (parallel) {
    const outcomes = await Promise.allSettled(wanted.map(startOne));
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled' && outcome.value !== undefined) started.push(outcome.value);
      else if (outcome.status === 'rejected') failure ??= outcome.reason;
    }
  } else {
    try {
      for (const key of wanted) {
        const contender = await startOne(key);
        if (contender !== undefined) started.push(contender);
      }
    } catch (error) {
      failure = error;
    }
  }
  if (failure !== undefined) {
    await stopAll(started);
    throw failure;
  }
  return started;
}

export async function stopAll(contenders, log = () => undefined) {
  const stops = await Promise.allSettled(contenders.map((contender) => contender.stop()));
  for (const [i, stop] of stops.entries()) {
    if (stop.status === 'rejected') log(`   could not stop ${contenders[i].label} cleanly (killed at exit): ${stop.reason.message}`);
  }
}
