// Shared pieces of the integration tests: start a real `warden serve` on 127.0.0.1 with port 0,
// read its bound ports from the startup line, make real HTTP requests, wait by polling to deadlines,
// and kill the primary and every worker by PID when the test ends, passed or failed.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { listChildren, readStat } from '../../src/os/proc.js';
import type { WorkersBody, WorkerView } from '../../src/protocol/admin.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const WARDEN = fileURLToPath(new URL('../../../bin/warden.js', import.meta.url));

export function fixture(name: string): string {
  return fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url));
}

export interface RunningWarden {
  child: ChildProcess;
  pid: number;
  port: number;
  adminPort: number;
  /** stdout and stderr as they arrived, interleaved: for finding log lines. */
  output: () => string;
  /** Each stream on its own: a line can only be checked whole within one stream. */
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** Wait for warden to exit on its own, at most `timeoutMs`. */
  exit: (timeoutMs?: number) => Promise<{ code: number | null; signal: string | null }>;
  /** Every process of this warden the test saw: killed by pid when the test ends. */
  processes: OwnedProcesses;
  workers: () => Promise<WorkersBody>;
  /**
   * Wait until the output matches `pattern` (at most `timeoutMs`) and return it; fail naming the
   * pattern and showing the output otherwise. warden writes its log asynchronously and through a
   * pipe, so a line can arrive after the admin answer or event that the test saw first.
   */
  expectOutput: (pattern: RegExp, message?: string, timeoutMs?: number) => Promise<string>;
  /** The control socket path printed in the startup line. */
  control: string;
}

export type { WorkersBody, WorkerView };

/** Every live descendant pid of `pid` (children of children included), from /proc. */
export function descendants(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of listChildren(queue.shift() as number)) {
      found.push(child.pid);
      queue.push(child.pid);
    }
  }
  return found;
}

export function isAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== null && stat.state !== 'Z';
}

export function processState(pid: number): string | undefined {
  return readStat(pid)?.state;
}

export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/**
 * Poll `probe` until it gives a value (not undefined/false) or `timeoutMs` passes. Each probe call
 * is itself bounded by the time left, so a probe that never settles cannot outlive the deadline.
 * To wait for one promise (a process exit), use withDeadline instead.
 */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await withDeadline(Promise.resolve(probe()), Math.max(1, deadline - Date.now()), what);
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
}

/** `promise`, or a rejection naming `what` once `timeoutMs` has passed without it settling. */
export function withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** A process a test saw; its start time tells it apart from a later process that reuses the pid. */
export interface SeenProcess {
  pid: number;
  startTime: number;
  what: string;
}

/**
 * The one owner of a test's processes. Every pid handed to `own` is recorded with its start time,
 * and while the test runs /proc is polled for the children of every recorded process (workers,
 * their replacements, anything they fork), so a process orphaned when its parent exits is still
 * known. `killAll` (run by `after` through ownProcesses) SIGKILLs each one still alive by pid, and
 * fails the test if any survives.
 */
export class OwnedProcesses {
  private readonly seen = new Map<string, SeenProcess>();
  private readonly timer: NodeJS.Timeout;

  constructor(everyMs = 100) {
    this.timer = setInterval(() => this.scan(), everyMs);
    this.timer.unref();
  }

  /** Record `pid` (and, from now on, everything it forks). */
  own(pid: number | undefined, what: string): void {
    if (pid === undefined) return;
    this.record(pid, what);
    this.scan();
  }

  /** Every process recorded so far, dead or alive. */
  all(): SeenProcess[] {
    return [...this.seen.values()];
  }

  /** Recorded processes that still run (zombies count as gone). */
  alive(): SeenProcess[] {
    return this.all().filter((seen) => isSame(seen));
  }

  /** Record the children of every recorded live process, until no new one turns up. */
  scan(): void {
    let grew = true;
    while (grew) {
      grew = false;
      for (const parent of this.alive()) {
        for (const child of listChildren(parent.pid)) {
          if (this.record(child.pid, `child of ${parent.pid} (${parent.what})`, child.startTime)) grew = true;
        }
      }
    }
  }

  /** Wait until every recorded process is gone; fail naming the survivors. */
  async expectAllGone(why: string, timeoutMs = 5000): Promise<void> {
    this.scan();
    const deadline = Date.now() + timeoutMs;
    while (this.alive().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
    const left = this.alive();
    if (left.length > 0) {
      throw new Error(`${left.length} process(es) still alive ${why}: ${left.map((p) => `${p.pid} (${p.what}, state ${processState(p.pid)})`).join(', ')}`);
    }
  }

  /** Stop every live process (so none forks while we look), then SIGKILL each by pid; fail if one survives. */
  async killAll(): Promise<void> {
    clearInterval(this.timer);
    this.scan();
    for (const seen of this.alive()) killQuietly(seen.pid, 'SIGSTOP');
    this.scan();
    for (const seen of this.alive()) {
      killQuietly(seen.pid, 'SIGKILL');
      killQuietly(seen.pid, 'SIGCONT');
    }
    await this.expectAllGone('after SIGKILL at the end of the test');
  }

  private record(pid: number, what: string, startTime?: number): boolean {
    const start = startTime ?? readStat(pid)?.startTime;
    if (start === undefined) return false;
    const key = `${pid}:${start}`;
    if (this.seen.has(key)) return false;
    this.seen.set(key, { pid, startTime: start, what });
    return true;
  }
}

function isSame(seen: SeenProcess): boolean {
  const stat = readStat(seen.pid);
  return stat !== null && stat.startTime === seen.startTime && stat.state !== 'Z';
}

/** An OwnedProcesses whose killAll runs when the test ends, passed or failed. */
export function ownProcesses(t: TestContext): OwnedProcesses {
  const owned = new OwnedProcesses();
  t.after(() => owned.killAll());
  return owned;
}

export interface CliOutcome {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run the warden CLI to completion (SIGKILLed after `timeoutMs`), with no stdin, its processes owned by the test. */
export async function runCli(t: TestContext, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; owned?: OwnedProcesses } = {}): Promise<CliOutcome> {
  const owned = options.owned ?? ownProcesses(t);
  const timeoutMs = options.timeoutMs ?? 20_000;
  const started = Date.now();
  const child = spawn(process.execPath, [WARDEN, ...args], { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  owned.own(child.pid, `warden ${args[0] ?? ''}`);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const exit = await withDeadline(exited, timeoutMs, `warden ${args.join(' ')} to exit`).catch((error: Error) => {
    throw new Error(`${error.message}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
  });
  return { ...exit, stdout, stderr, ms: Date.now() - started };
}

/** One keep-alive GET written on a raw socket; resolves with the response head and body once the whole body is in. */
export function rawRequest(socket: Socket, path: string): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(text.slice(0, headEnd))?.[1] ?? 0);
      if (text.length < headEnd + 4 + length) return;
      socket.off('data', onData);
      socket.off('error', reject);
      resolve({ head: text.slice(0, headEnd), body: text.slice(headEnd + 4, headEnd + 4 + length) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`);
  });
}

/** A TCP connection to 127.0.0.1:port, connected. */
export async function openConnection(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await withDeadline(once(socket, 'connect'), 5000, 'a connection to the service');
  return socket;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One GET on a new connection (no keep-alive agent), with a deadline. */
export function get(port: number, path = '/', timeoutMs = 5000, headers: Record<string, string> = {}, agent: Agent | false = false): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${path} took over ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export async function getJson<T>(port: number, path: string, timeoutMs = 5000): Promise<{ status: number; body: T }> {
  const answer = await get(port, path, timeoutMs);
  return { status: answer.status, body: JSON.parse(answer.body) as T };
}

/** Start `warden serve <args>` with port 0 for both servers; cleanup is registered on `t` at once. */
export async function startWarden(t: TestContext, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; waitReady?: boolean; detached?: boolean } = {}): Promise<RunningWarden> {
  // The port flags go before a `--`: what follows it belongs to the app.
  const dashes = args.indexOf('--');
  const ports = ['--port', '0', '--admin-port', '0'];
  const full = dashes < 0 ? [...args, ...ports] : [...args.slice(0, dashes), ...ports, ...args.slice(dashes)];
  const child = spawn(process.execPath, [WARDEN, 'serve', ...full], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, as a shell gives a foreground job: `process.kill(-pid, 'SIGINT')` is Ctrl-C.
    detached: options.detached ?? false,
  });
  const pid = child.pid as number;
  const processes = ownProcesses(t);
  processes.own(pid, 'warden primary');
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    stderr += chunk;
  });
  // Exited means the process is gone *and* what it wrote has been read (both pipes ended), so that a
  // test reading the output after the exit sees all of it; a pipe still held by an orphan does not
  // hold the exit up for more than 2 s.
  const drained = (stream: NodeJS.ReadableStream | null) => new Promise<void>((resolve) => (stream === null ? resolve() : stream.once('end', resolve).once('close', resolve)));
  const pipesEnded = Promise.all([drained(child.stdout), drained(child.stderr)]);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => {
    const status = { code, signal };
    void withDeadline(pipesEnded, 2000, 'the output pipes to end').catch(() => undefined).then(() => resolve(status));
  }));
  const startup = waitFor('the startup line', () => /on https?:\/\/127\.0\.0\.1:(\d+) \(admin http:\/\/[^:/ ]+:(\d+)/.exec(output) ?? undefined, 15_000);
  const exitedEarly = exited.then(({ code, signal }) => {
    throw new Error(`warden exited (${code ?? signal}) before its startup line`);
  });
  const match = await Promise.race([startup, exitedEarly]).catch((error: Error) => {
    throw new Error(`${error.message}\noutput so far:\n${output}`);
  });
  exitedEarly.catch(() => undefined);
  const running: RunningWarden = {
    child, pid, processes, port: Number(match[1]), adminPort: Number(match[2]), output: () => output, stdout: () => stdout, stderr: () => stderr, exited,
    exit: (timeoutMs = 30_000) => withDeadline(exited, timeoutMs, `warden (pid ${pid}) to exit`).catch((error: Error) => {
      throw new Error(`${error.message}\noutput so far:\n${output}`);
    }),
    control: /control (\S+), pid/.exec(output)?.[1] ?? '',
    expectOutput: async (pattern, message, timeoutMs = 10_000) => {
      try {
        return await waitFor(`output matching ${pattern}`, () => (pattern.test(output) ? output : undefined), timeoutMs, 25);
      } catch {
        throw new assert.AssertionError({ message: `${message ? `${message}: ` : ''}no output line matched ${pattern} within ${timeoutMs} ms; output:\n${output}`, actual: output, expected: pattern, operator: 'match' });
      }
    },
    workers: async () => {
      const body = (await getJson<WorkersBody>(running.adminPort, '/workers')).body;
      for (const worker of body.workers) if (worker.pid !== null) processes.own(worker.pid, `worker ${worker.slot}`);
      return body;
    },
  };
  // A SIGKILLed warden cannot remove its control socket: remove it once every process is gone
  // (this hook runs after the killAll registered above), so the runtime directory does not fill up.
  t.after(() => {
    if (running.control !== '') rmSync(running.control, { force: true });
  });
  if (options.waitReady !== false) {
    await waitFor('all workers ready', async () => (await getJson(running.adminPort, '/readyz')).status === 200, 20_000);
    await running.workers();
  }
  return running;
}

/**
 * Distinct worker pids seen answering requests that report their pid in JSON, sent four at a time on
 * new connections until `expected` pids have answered or `maxRequests` were sent. Which worker
 * accepts is the kernel's choice with `--balance shared` (one process often wins a run of
 * sequential connections, and a worker that just entered rotation takes a moment to start
 * accepting), so a fixed handful of requests is not enough to see every worker.
 */
export async function answeringPids(port: number, expected: number, { maxRequests = 200, path = '/' } = {}): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let sent = 0; sent < maxRequests && pids.size < expected; sent += 4) {
    const answers = await Promise.all([0, 1, 2, 3].map(() => get(port, path)));
    for (const answer of answers) pids.add((JSON.parse(answer.body) as { pid: number }).pid);
  }
  return pids;
}

/**
 * `perWorker` keep-alive agents each holding a connection to each of `pids`, for a server whose
 * answers are JSON with the answering `pid` (tried up to 400 connections; the others are closed).
 * With `--balance shared` the kernel may give a whole run of new connections to one worker, so
 * starting N clients and hoping for a spread is not enough. Destroyed when the test ends.
 */
export async function pinAgents(t: TestContext, port: number, pids: number[], perWorker: number): Promise<Agent[]> {
  const held = new Map<number, Agent[]>(pids.map((pid) => [pid, []]));
  const all: Agent[] = [];
  t.after(() => all.forEach((agent) => agent.destroy()));
  for (let tries = 0; tries < 400 && [...held.values()].some((list) => list.length < perWorker); tries++) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    all.push(agent);
    const { pid } = JSON.parse((await get(port, '/pid', 5000, {}, agent)).body) as { pid: number };
    const list = held.get(pid);
    if (list !== undefined && list.length < perWorker) list.push(agent);
    else agent.destroy();
  }
  const counts = [...held.values()].map((list) => list.length);
  assert.ok(counts.every((n) => n === perWorker), `${perWorker} keep-alive connections on each worker (got ${counts.join(' / ')})`);
  return [...held.values()].flat();
}

export interface LoadSample {
  at: number;
  ok: boolean;
  status: number;
  ms: number;
  error?: string;
}

export interface Load {
  samples: LoadSample[];
  /** Stop sending and wait for the requests in flight to settle. */
  stop(): Promise<LoadSample[]>;
}

/**
 * Bounded load: `concurrency` loops, each sending one GET at a time until stopped (or `maxMs`
 * passes), on a new connection per request or on one keep-alive connection per loop. A request
 * that takes longer than `timeoutMs` is abandoned, as real clients do.
 */
export function startLoad(
  port: number,
  options: { concurrency?: number; keepAlive?: boolean; timeoutMs?: number; path?: string; maxMs?: number; ratePerLoop?: number; agents?: Agent[] } = {},
): Load {
  // `agents`: one client loop per given keep-alive agent (pinAgents), instead of `concurrency` new ones.
  const { keepAlive = false, timeoutMs = 10_000, path = '/', maxMs = 60_000, ratePerLoop, agents } = options;
  const concurrency = agents?.length ?? options.concurrency ?? 4;
  const requests = new Set<ClientRequest>();
  const samples: LoadSample[] = [];
  let running = true;
  const hardStop = setTimeout(() => (running = false), maxMs);
  const loops = Array.from({ length: concurrency }, async (_, index) => {
    const agent = agents?.[index] ?? (keepAlive ? new Agent({ keepAlive: true, maxSockets: 1 }) : false);
    while (running) {
      const started = Date.now();
      const sample = await new Promise<LoadSample>((resolve) => {
        const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
          requests.delete(req);
          res.resume();
          res.on('end', () => resolve({ at: started, ok: res.statusCode === 200, status: res.statusCode ?? 0, ms: Date.now() - started }));
          res.on('error', (error) => resolve({ at: started, ok: false, status: 0, ms: Date.now() - started, error: error.message }));
        });
        req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
        req.on('error', (error) => {
          requests.delete(req);
          resolve({ at: started, ok: false, status: 0, ms: Date.now() - started, error: error.message });
        });
        requests.add(req);
        req.end();
      });
      if (!running) break;
      samples.push(sample);
      // A paced load measures whether requests succeed at the offered rate, not how fast a shared
      // machine can go, so before/after comparisons hold while other tests run.
      const pause = ratePerLoop === undefined ? (sample.ok ? 0 : 20) : started + 1000 / ratePerLoop - Date.now();
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
    }
    if (agent) agent.destroy();
  });
  return {
    samples,
    async stop() {
      running = false;
      clearTimeout(hardStop);
      for (const req of requests) req.destroy();
      await Promise.all(loops);
      return samples;
    },
  };
}

/** Answered requests per second among samples that started in [from, to). */
export function throughput(samples: readonly LoadSample[], from: number, to: number): number {
  const count = samples.filter((sample) => sample.ok && sample.at >= from && sample.at < to).length;
  return count / ((to - from) / 1000);
}

/**
 * With warden serving fixtures/faults.mjs on 2 workers: poison one, send bursts of new connections
 * until one request hangs on it while its peer answers, then stop sending. The poisoned worker is
 * then quarantined, and stays so when warden runs with `--compare-probe off` (no traffic after the
 * burst: no evidence to recycle it; the comparison probe would bring it). The requests left hanging
 * are returned for the test to let go of.
 */
export async function quarantineOne(warden: RunningWarden): Promise<{ pid: number; slot: number; hanging: Promise<unknown>[] }> {
  const { pid } = JSON.parse((await get(warden.port, '/poison')).body) as { pid: number };
  const hanging: Promise<unknown>[] = [];
  for (let burst = 0; burst < 8; burst++) {
    const answers = Array.from({ length: 8 }, () => get(warden.port, '/', 60_000).then(() => 'answered', () => 'failed'));
    hanging.push(...answers);
    const settled = await Promise.all(answers.map((answer) => Promise.race([answer, new Promise((resolve) => setTimeout(() => resolve('hung'), 1500))])));
    if (settled.includes('hung')) break;
  }
  const victim = await waitFor(`worker pid ${pid} quarantined`, async () => (await warden.workers()).workers.find((worker) => worker.pid === pid && worker.state === 'quarantined'), 15_000);
  return { pid, slot: victim.slot, hanging };
}

/**
 * A port free on 127.0.0.1 a moment ago (bound, then closed), for a warden that must be given fixed
 * ports: one whose startup line cannot be read, or sockets systemd-socket-activate binds.
 */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
