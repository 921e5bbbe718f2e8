// What a worker is told before it runs: the settings the primary passes in the WARDEN_WORKER_CONFIG
// environment variable, and the other environment variables of the primary-worker contract. The
// messages exchanged once it runs are in messages.ts.

/** Settings the primary passes to each worker in the WARDEN_WORKER_CONFIG environment variable. */
export interface WorkerConfig {
  modulePath: string;
  exportName?: string;
  factory: boolean;
  /** 0 with --uds. */
  port: number;
  address: { address: string; family: string; port: number } | string;
  /** --uds: the socket's path; PORT is set to it, and a listen() on it is the app's own. */
  socketPath?: string;
  heartbeatIntervalMs: number;
  /** The interval of an idle worker's heartbeats (nothing in flight, nothing arrived or finished): longer, fewer wake-ups of the primary. */
  idleHeartbeatIntervalMs?: number;
  requestTimeoutMs: number;
  listenWaitMs: number;
  /** --graceful-timeout: on drain, upgraded connections are closed just before it runs out. */
  gracefulTimeoutMs?: number;
  /** --access-log, and the format its lines are written in. */
  accessLog?: 'off' | 'on' | 'query';
  logFormat?: 'text' | 'json';
  /** The app's arguments (after `--`): process.argv becomes [node, modulePath, ...args]. */
  args: string[];
  /** HTTPS: absolute paths of the PEM files; the worker reads them and terminates TLS itself. */
  tls?: { keyfile: string; certfile: string; ca?: string };
  /** --backlog: a worker listens on its copy of the shared socket with it (listen(2) sets it again). */
  backlog?: number;
  /** --max-concurrency: requests in flight past which the worker answers 503 at once; 0 or absent: off. */
  maxConcurrency?: number;
}

export const WORKER_CONFIG_ENV = 'WARDEN_WORKER_CONFIG';
/** The primary's pid: a worker whose parent is another process at startup was orphaned before it ran. */
export const PRIMARY_PID_ENV = 'WARDEN_PRIMARY_PID';
/** "kernel" when the worker was started with a parent-death signal; anything else: watch the parent. */
export const PARENT_DEATH_ENV = 'WARDEN_PARENT_DEATH';
