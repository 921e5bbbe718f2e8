// The only file in primary/ that forks, signals or waits on children. A WorkerProcess wraps one
// child: it forwards validated IPC messages, splits stdout/stderr into whole lines, and reports the
// exit once. It decides nothing; supervisor.ts turns what it reports into machine events.

import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { SendHandle } from 'node:child_process';
import { errnoCode } from '../errors.js';
import type { ConnectionHandle, ListeningHandle } from './raw-accept.js';
import { parseWorkerMessage, serializeError, WORKER_CONFIG_ENV, type PrimaryMessage, type WorkerConfig, type WorkerMessage, type SerializedError } from '../protocol/messages.js';

export interface WorkerSpawnSpec {
  entry: string;
  slot: number;
  generation: number;
  workerCount: number;
  config: WorkerConfig;
  env: NodeJS.ProcessEnv;
  execArgv: string[];
}

export interface WorkerCallbacks {
  onSpawn(pid: number): void;
  onSpawnError(error: SerializedError): void;
  /** `handle`: a handle that rode along (the listening socket's copy, answering 'listen'). */
  onMessage(message: WorkerMessage, handle: unknown): void;
  onLine(stream: 'stdout' | 'stderr', line: string): void;
  onExit(code: number | null, signal: string | null): void;
}

export class WorkerProcess {
  private readonly child: ChildProcess;
  private exited = false;

  constructor(spec: WorkerSpawnSpec, callbacks: WorkerCallbacks) {
    this.child = fork(spec.entry, [], {
      env: {
        ...spec.env,
        PORT: String(spec.config.port),
        WARDEN_WORKER_ID: String(spec.slot),
        WARDEN_WORKER_COUNT: String(spec.workerCount),
        WARDEN_WORKER_GENERATION: String(spec.generation),
        [WORKER_CONFIG_ENV]: JSON.stringify(spec.config),
      },
      execArgv: spec.execArgv,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
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
      const lines = createInterface({ input: source, crlfDelay: Infinity });
      lines.on('line', (line) => callbacks.onLine(stream, line));
      lines.on('close', () => {
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
   * copy of a raw handle open after sending it; the dispatcher closes it once the worker
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
