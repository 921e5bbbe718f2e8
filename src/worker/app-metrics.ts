// The app's own prom-client metrics, pushed to the primary about once a second (the primary serves
// them on /metrics with a `slot` label, as prom-client's AggregatorRegistry does for node:cluster).
// Only a prom-client the app itself loaded is read: warden never loads it into an app that does not.

import { createRequire } from 'node:module';

interface PromClient {
  register: { getMetricsAsJSON(): Promise<unknown[]> };
}

/** Returns a reader of the app's default registry, or undefined while the app has not loaded prom-client. */
export function appMetricsReader(modulePath: string): () => Promise<unknown[] | undefined> {
  const require = createRequire(modulePath);
  let resolved: string | null | undefined;
  return async () => {
    if (resolved === undefined) {
      try {
        resolved = require.resolve('prom-client');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
        resolved = null; // the app has no prom-client to load
      }
    }
    if (resolved === null || require.cache[resolved] === undefined) return undefined;
    const client = require(resolved) as PromClient;
    return client.register.getMetricsAsJSON();
  };
}

export function startAppMetrics(modulePath: string, intervalMs: number, send: (metrics: unknown[]) => void): void {
  const read = appMetricsReader(modulePath);
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    read().then(
      (metrics) => {
        busy = false;
        if (metrics !== undefined) send(metrics);
      },
      (error: unknown) => {
        busy = false;
        // A broken collect() of the app's must not take the worker down; it is reported once.
        clearInterval(timer);
        process.stderr.write(`warden: the app's prom-client metrics could not be read, /metrics will not show them: ${String(error)}\n`);
      },
    );
  }, intervalMs);
  timer.unref();
}
