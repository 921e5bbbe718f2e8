// The only file in primary/ that forks, signals or waits on children. A WorkerProcess wraps one
// child: it forwards validated IPC messages, splits stdout/stderr into whole lines, and reports the
// exit once. It decides nothing; fleet.ts turns what it reports into machine events.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { SendHandle } from 'node:child_process';
import { errnoCode } from '../errors.js';
import { LineSplitter } from '../log/line-splitter.js';
import type { ConnectionHandle, ListeningHandle } from './net/raw-accept.js';
import { parseWorkerMessage, serializeError, type PrimaryMessage, type WorkerMessage, type SerializedError } from '../protocol/messages.js';
import { PARENT_DEATH_ENV, PRIMARY_PID_ENV, WORKER_CONFIG_ENV, type WorkerConfig } from '../protocol/worker-config.js';

export interface WorkerSpawnSpec {
  entry: string;
  slot: number;
  generation: number;
  workerCount: number;
  config: WorkerConfig;
  env: NodeJS.ProcessEnv;
  execArgv: string[];
  /** The longest line of output held in memory (see log/line-splitter.ts). */
  maxLineBytes: number;
  cwd?: string;
}

export interface WorkerCallbacks {
  onSpawn(pid: number): void;
  onSpawnError(error: SerializedError): void;
  /** `handle`: a handle that rode along (the listening socket's copy, answering 'listen'). */
  onMessage(message: WorkerMessage, handle: unknown): void;
  /** A whole line, or a piece of one longer than `maxLineBytes` (`partial`). */
  onLine(stream: 'stdout' | 'stderr', line: string, partial: boolean): void;
  onExit(code: number | null, signal: string | null): void;
}

export class WorkerProcess {
  private readonly child: ChildProcess;
  private exited = false;

  constructor(spec: WorkerSpawnSpec, callbacks: WorkerCallbacks) {
    // Where setpriv can set it, the kernel SIGKILLs the worker the moment the primary dies, even a
    // worker that is stopped (SIGSTOP) or spinning. setpriv calls prctl(PR_SET_PDEATHSIG) and then
    // executes node in the same process, so the pid, the pipes and the IPC channel are the worker's.
    const launcher = parentDeathLauncher();
    const nodeArgs = [...spec.execArgv, spec.entry];
    this.child = spawn(launcher ?? process.execPath, launcher === null ? nodeArgs : ['--pdeathsig', 'KILL', '--', process.execPath, ...nodeArgs], {
      env: {
        ...spec.env,
        PORT: spec.config.socketPath ?? String(spec.config.port),
        WARDEN_WORKER_ID: String(spec.slot),
        WARDEN_WORKER_COUNT: String(spec.workerCount),
        WARDEN_WORKER_GENERATION: String(spec.generation),
        [WORKER_CONFIG_ENV]: JSON.stringify(spec.config),
        [PRIMARY_PID_ENV]: String(process.pid),
        [PARENT_DEATH_ENV]: launcher === null ? 'watch' : 'kernel',
      },
      ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
      // A process group of its own: Ctrl-C in a terminal signals the whole foreground group, and apps
      // such as `next start` exit at once on their own SIGINT/SIGTERM handlers, cutting requests in
      // flight. Only the primary decides how a worker stops. The worker still dies with the primary
      // (parent-death signal, or worker/parent-watch.ts), whatever group it is in.
      detached: true,
    });
    this.child.once('spawn', () => callbacks.onSpawn(this.child.pid as number));
    this.child.on('error', (error) => {
      // 'error' means the fork failed, or a signal or message could not be delivered.
      if (this.child.pid === undefined) callbacks.onSpawnError(serializeError(error));
    });
    this.child.on('message', (raw: unknown, handle: unknown) => {
      const message = parseWorkerMessage(raw);
      if (message !== undefined) callbacks.onMessage(message, handle);
      else (handle as { close?: () => void } | undefined)?.close?.();
    });
    // 'close' (not 'exit') so the last lines of output are read before the exit is reported.
    let outputOpen = 2;
    let exitStatus: [number | null, string | null] | undefined;
    const reportExit = () => {
      if (this.exited || exitStatus === undefined || outputOpen > 0) return;
      this.exited = true;
      callbacks.onExit(...exitStatus);
    };
    for (const stream of ['stdout', 'stderr'] as const) {
      const source = this.child[stream];
      if (source === null) {
        outputOpen -= 1;
        continue;
      }
      // Read as fast as the worker writes, whatever happens to warden's own output: a worker must
      // never block on a full pipe because a log reader is slow or gone (the log stream drops instead).
      const lines = new LineSplitter(spec.maxLineBytes, (line) => callbacks.onLine(stream, line.text, line.partial));
      source.on('data', (chunk: Buffer) => lines.push(chunk));
      source.once('close', () => {
        lines.end();
        outputOpen -= 1;
        reportExit();
      });
    }
    this.child.once('exit', (code, signal) => {
      exitStatus = [code, signal];
      reportExit();
      // A grandchild holding the pipes open must not delay the exit report for long.
      setTimeout(() => {
        outputOpen = 0;
        reportExit();
      }, 1000).unref();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isConnected(): boolean {
    return this.child.connected;
  }

  /**
   * Send a message, with a connection's raw handle riding along if given. node keeps the primary's
   * copy of a raw handle open after sending it; the listener closes it once the worker
   * acknowledges, so an unacknowledged connection can still go to another worker.
   */
  send(message: PrimaryMessage, handle?: ConnectionHandle | ListeningHandle, onSent?: (error: Error | null) => void): void {
    if (!this.child.connected) {
      onSent?.(new Error('IPC channel closed'));
      return;
    }
    const done = (error: Error | null) => onSent?.(error);
    if (handle === undefined) this.child.send(message, done);
    else this.child.send(message, handle as unknown as SendHandle, done);
  }
}

let launcher: string | null | undefined;
let probing: Promise<string | null> | undefined;

/**
 * util-linux's setpriv, if it is on PATH and can set a parent-death signal (Linux only; older
 * versions lack --pdeathsig), else null: workers then fall back to watching their parent pid.
 * Looked up once per primary; probeParentDeathLauncher() does it without blocking, and a spawn that
 * comes before that probe ended looks it up synchronously.
 */
export function parentDeathLauncher(): string | null {
  if (launcher !== undefined) return launcher;
  const candidate = setprivCandidate();
  launcher = candidate === undefined ? null : spawnSync(candidate, TRIAL_ARGS, { stdio: 'ignore', timeout: 5000 }).status === 0 ? candidate : null;
  return launcher;
}

/** The same lookup, with the trial run (a node start, 8-20 ms) off the event loop: start it early. */
export function probeParentDeathLauncher(): Promise<string | null> {
  if (launcher !== undefined) return Promise.resolve(launcher);
  probing ??= new Promise((resolve) => {
    const candidate = setprivCandidate();
    if (candidate === undefined) {
      launcher ??= null;
      resolve(launcher);
      return;
    }
    const trial = spawn(candidate, TRIAL_ARGS, { stdio: 'ignore', timeout: 5000 });
    const settle = (found: string | null) => {
      launcher ??= found;
      resolve(launcher);
    };
    trial.once('error', () => settle(null));
    trial.once('exit', (code) => settle(code === 0 ? candidate : null));
  });
  return probing;
}

const TRIAL_ARGS = ['--pdeathsig', 'KILL', '--', process.execPath, '--version'];

function setprivCandidate(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'setpriv');
    try {
      accessSync(candidate, constants.X_OK);
    } catch (error) {
      if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'EACCES' || errnoCode(error) === 'ENOTDIR') continue;
      throw error;
    }
    return candidate;
  }
  return undefined;
}

/** Send a signal by pid; a process that is already gone (ESRCH) is not an error. */
export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    if (errnoCode(error) === 'ESRCH') return false;
    throw error;
  }
}
