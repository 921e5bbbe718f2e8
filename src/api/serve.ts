// The programmatic API: serve() starts a supervisor in this process with the same options as
// `warden serve` (validated by the same table), and returns a handle with the bound addresses,
// close(), reload(), scale(n), and typed events. The CLI is a thin layer over the same launch.ts.

import { EventEmitter } from 'node:events';
import type { HaltInfo, MachineEvent } from '../primary/machine/index.js';
import { LOG_EVENTS, type LogEvent } from '../log/events.js';
import { createLogger, type Logger } from '../log/logger.js';
import type { LifecycleOutcome, Supervisor } from '../primary/supervisor.js';
import { createSupervisor, prepare, resolveApp } from './launch.js';

/** Every `warden serve` option, named as the flag in camelCase; durations in seconds. */
export interface WardenOptions {
  workers?: number | 'auto';
  host?: string;
  port?: number;
  adminHost?: string;
  adminPort?: number;
  factory?: boolean;
  gracefulTimeout?: number;
  bootTimeout?: number;
  timeout?: number;
  requestTimeout?: number;
  stuckAfter?: number;
  probePath?: string;
  probeInterval?: number;
  probeTimeout?: number;
  probeFailures?: number;
  minReady?: number | 'all' | `${number}%`;
  maxRestarts?: number;
  captureStacks?: boolean | 'on' | 'off';
  maxMemory?: number | string;
  heapSnapshotOnRecycle?: string;
  logFormat?: 'text' | 'json';
  sslKeyfile?: string;
  sslCertfile?: string;
  sslCa?: string;
  cwd?: string;
  envFile?: string;
  nodeArgs?: string | string[];
  maxRequests?: number;
  maxRequestsJitter?: number;
  control?: string;
  reload?: boolean;
  reloadDir?: string | string[];
  reloadInclude?: string | string[];
  reloadExclude?: string | string[];
  accessLog?: 'off' | 'on' | 'query';
  /** Serve on this unix domain socket instead of host:port. */
  uds?: string;
  /** File mode of the --uds socket, octal: "660". */
  udsMode?: string;
  sticky?: boolean;
}

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

export interface WorkerEvent {
  slot: number;
  generation: number;
  pid: number | null;
  /** The log line warden wrote for it. */
  message: string;
}

export interface WorkerExitEvent extends WorkerEvent {
  code: number | null;
  signal: string | null;
  reason: string | null;
  /** Warden stopped it on purpose (drain, recycle, stop) rather than it dying. */
  planned: boolean;
}

export interface WardenEvents {
  workerReady: [WorkerEvent];
  /** Missed its heartbeat window: out of rotation until it answers. */
  workerLate: [WorkerEvent];
  /** No heartbeat for --timeout: being killed and replaced. */
  workerStalled: [WorkerEvent];
  /** Answered none of its requests for --stuck-after while others answered: being recycled. */
  workerStuck: [WorkerEvent];
  workerExited: [WorkerExitEvent];
  /** A rolling reload completed: every slot runs the new generation. */
  reloadDone: [ReloadEvent];
  /** A rolling reload stopped at a slot whose new worker could not start; the old ones keep serving. */
  reloadFailed: [ReloadEvent];
}

export interface ReloadEvent {
  generation: number;
  /** The slot where a failed reload stopped, and the new worker's error. */
  slot: number | null;
  error: string | null;
  message: string;
}

export interface StopResult {
  /** The exit code `warden serve` would end with (0 after a graceful stop; see the README). */
  code: number;
  halt: HaltInfo | undefined;
}

/** Which machine log events become which API events. */
const EVENTS: Partial<Record<LogEvent, keyof WardenEvents>> = {
  [LOG_EVENTS.workerReady]: 'workerReady',
  [LOG_EVENTS.workerLate]: 'workerLate',
  [LOG_EVENTS.workerStalled]: 'workerStalled',
  [LOG_EVENTS.workerStuck]: 'workerStuck',
  [LOG_EVENTS.workerExited]: 'workerExited',
  [LOG_EVENTS.reloadCompleted]: 'reloadDone',
  [LOG_EVENTS.reloadFailed]: 'reloadFailed',
};

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

  /** @internal The CLI forwards OS signals here. */
  dispatch(event: MachineEvent): void {
    this.supervisor?.dispatch(event);
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

function toEvent(name: keyof WardenEvents, fields: Readonly<Record<string, unknown>>, message: string): WorkerEvent | WorkerExitEvent | ReloadEvent {
  if (name === 'reloadDone' || name === 'reloadFailed') {
    return { generation: fields.generation as number, slot: (fields.slot as number | undefined) ?? null, error: (fields.error as string | undefined) ?? null, message };
  }
  const base: WorkerEvent = {
    slot: fields.slot as number, generation: fields.generation as number, pid: (fields.pid as number | undefined) ?? null, message,
  };
  if (name !== 'workerExited') return base;
  return { ...base, code: (fields.code as number | null | undefined) ?? null, signal: (fields.signal as string | null | undefined) ?? null, reason: (fields.reason as string | undefined) ?? null, planned: fields.planned === true };
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
  const early: [keyof WardenEvents, WorkerEvent | WorkerExitEvent | ReloadEvent][] = [];
  const supervisor = createSupervisor(prepared, app, log, (event, fields, message) => {
    const name = EVENTS[event];
    if (name === undefined || (typeof fields.slot !== 'number' && name !== 'reloadDone' && name !== 'reloadFailed')) return;
    const payload = toEvent(name, fields, message);
    if (handle === undefined) early.push([name, payload]);
    else (handle.emit as (name: string, payload: unknown) => boolean)(name, payload);
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
    for (const [name, payload] of pending) (handle.emit as (name: string, payload: unknown) => boolean)(name, payload);
  });
  return handle;
}
