// The programmatic API: serve() starts a supervisor in this process with the same options as
// `warden serve` (validated by the same table), and returns a handle with the bound addresses,
// close(), reload(), scale(n), and typed events. The CLI is a thin layer over the same launch.ts.

import { EventEmitter } from 'node:events';
import type { OptionInputs } from '../config/options.js';
import type { HaltInfo } from '../primary/machine/index.js';
import { createLogger, type Logger } from '../log/logger.js';
import { installSignalHandlers } from '../primary/signals.js';
import type { LifecycleOutcome, Supervisor } from '../primary/supervisor.js';
import type { DomainEvent, ReloadEvent, WardenEvents, WorkerEvent, WorkerExitEvent } from '../protocol/events.js';
import { createSupervisor, prepare, resolveApp } from './launch.js';

/** Every `warden serve` option, named as the flag in camelCase; durations in seconds (from the options table). */
export type WardenOptions = OptionInputs;

export interface ServeInput extends WardenOptions {
  /** The app module, optionally with an export: "./app.js", "./server.mjs:handler" (relative to cwd). */
  app?: string;
  /** The app's arguments: each worker's process.argv is [node, app, ...args]. */
  args?: string[];
  /** A config file to read (lowest precedence after the defaults); none is read unless given. */
  config?: string;
  /** Environment variables read for options (WARDEN_WORKERS, PORT, ...); process.env when absent. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Write no log lines (warden's or the workers' output); events still fire. */
  silent?: boolean;
}

export interface Address {
  host: string;
  port: number;
  /** --uds: the unix socket's path (host is '' and port 0 then). */
  path?: string;
}

export type { ReloadEvent, WardenEvents, WorkerEvent, WorkerExitEvent };

export interface StopResult {
  /** The exit code `warden serve` would end with (0 after a graceful stop; see the README). */
  code: number;
  halt: HaltInfo | undefined;
}

export class WardenServer extends EventEmitter<WardenEvents> {
  /** Resolves once every worker has stopped: after close(), a crash loop, or a boot failure. */
  readonly done: Promise<StopResult>;
  private supervisor: Supervisor | undefined;

  /** @internal Use serve(). */
  constructor(
    /** The service address really bound (port 0 resolved). */
    readonly listen: Address,
    /** The admin server (/livez, /readyz, /workers). */
    readonly admin: Address,
    done: Promise<StopResult>,
    /** "https" with --ssl-keyfile/--ssl-certfile. */
    readonly protocol: 'http' | 'https' = 'http',
    /** The control socket `warden reload`, `warden scale` and `warden status` reach it through. */
    readonly control = '',
  ) {
    super();
    this.done = done;
  }

  /** @internal */
  attach(supervisor: Supervisor): void {
    this.supervisor = supervisor;
  }

  /** @internal The CLI's OS signals (signals.ts table) go to this server; returns the remover. */
  handleSignals(): () => void {
    return installSignalHandlers((event) => this.supervisor?.dispatch(event));
  }

  /** `unix:/path` with --uds. */
  get url(): string {
    if (this.listen.path !== undefined) return `unix:${this.listen.path}`;
    return `${this.protocol}://${this.listen.host.includes(':') ? `[${this.listen.host}]` : this.listen.host}:${this.listen.port}`;
  }

  /** Rolling reload to the code now on disk; resolves (never rejects) with how it ended. */
  reload(onProgress?: (message: string) => void): Promise<LifecycleOutcome> {
    return this.running().reload(onProgress);
  }

  /** Scale to `workers` (or by `{ delta }`); resolves once the fleet matches the target, or was refused. */
  scale(target: number | { delta: number }, onProgress?: (message: string) => void): Promise<LifecycleOutcome> {
    return this.running().scale(typeof target === 'number' ? { workers: target } : target, onProgress);
  }

  private running(): Supervisor {
    if (this.supervisor === undefined) throw new Error('warden: the server is not started');
    return this.supervisor;
  }

  /** Graceful stop, as SIGTERM: stop accepting, let in-flight requests finish (up to --graceful-timeout). */
  close(): Promise<StopResult> {
    this.supervisor?.dispatch({ type: 'SignalReceived', signal: 'SIGTERM' });
    return this.done;
  }
}

const nothingDropped = () => ({ droppedLines: 0, droppedBytes: 0, lastError: null, failing: false });
const silentLogger: Logger = {
  log: () => undefined,
  workerLine: () => undefined,
  streamStats: () => ({ stdout: nothingDropped(), stderr: nothingDropped() }),
  flush: async () => undefined,
};

/** Start warden in this process. Rejects with a WardenError (stable `code`) on bad options or a port that cannot be bound. */
export async function serve(input: ServeInput): Promise<WardenServer> {
  const { app, args, config, env, silent, ...options } = input;
  const prepared = await prepare({
    flagLayer: { label: 'serve() options', values: options as Record<string, unknown> },
    env: env ?? process.env,
    ...(config === undefined ? {} : { configPath: config }),
    discover: false,
    ...(app === undefined ? {} : { moduleSpec: app }),
    ...(args === undefined ? {} : { appArgs: args }),
  });
  return start(prepared, resolveApp(prepared.moduleSpec, prepared.cwd), silent === true ? silentLogger : createLogger(prepared.options.logFormat));
}

/** @internal The CLI's entry: settings already prepared, its own logger. */
export async function start(prepared: Awaited<ReturnType<typeof prepare>>, app: ReturnType<typeof resolveApp>, log: Logger): Promise<WardenServer> {
  let handle: WardenServer | undefined;
  const early: DomainEvent[] = [];
  const emit = (server: WardenServer, event: DomainEvent) => (server.emit as (name: string, payload: unknown) => boolean)(event.name, event.payload);
  const supervisor = createSupervisor(prepared, app, log, (event) => {
    if (handle === undefined) early.push(event);
    else emit(handle, event);
  });
  // Whatever ends this process, the workers end with it.
  const killAll = () => supervisor.killAll();
  process.on('exit', killAll);
  let started;
  try {
    started = await supervisor.start();
  } catch (error) {
    process.off('exit', killAll);
    throw error;
  }
  const done = started.done.then((result) => {
    process.off('exit', killAll);
    return result;
  });
  handle = new WardenServer(started.listen, started.admin, done, prepared.options.sslKeyfile === undefined ? 'http' : 'https', started.control);
  handle.attach(supervisor);
  // Events raised before the handle existed are delivered on the next tick, after serve() resolves.
  const pending = early.splice(0);
  setImmediate(() => {
    for (const event of pending) emit(handle as WardenServer, event);
  });
  return handle;
}
