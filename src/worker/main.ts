// Entry point of every worker process: load the app, say ready, take the connections the primary
// hands over (or, with `--balance shared`, accept from the shared listening socket while the primary
// says so), beat, drain on request, and report a boot error or a crash before exiting. It binds no
// port: the primary owns the listener. It decides nothing about its own health.

import { Socket, type Server } from 'node:net';
import { loadApp } from '../app/load.js';
import { monotonicMs, parsePrimaryMessage, serializeError, type AppMetric, type WorkerMessage } from '../protocol/messages.js';
import { PARENT_DEATH_ENV, PRIMARY_PID_ENV, WORKER_CONFIG_ENV, type WorkerConfig } from '../protocol/worker-config.js';
import { workerTitle } from '../process-title.js';
import { accessLogWriter } from './access-log.js';
import { startAppMetrics } from './app-metrics.js';
import { startHeartbeat } from './heartbeat.js';
import { takeHeapSnapshot } from './heap-snapshot.js';
import { isOrphaned, watchParent } from './parent-watch.js';
import { upgradedCloseDelayMs } from './connection-close.js';
import { isHttpServer, RequestTracker } from './requests.js';
import { limitConcurrency } from './concurrency-limit.js';

/** A connection's libuv handle as it arrives over IPC. */
interface RawHandle {
  close(): void;
}

/** The shared listening socket's libuv handle (node's TCPWrap), as it arrives over IPC. */
interface ListeningHandle {
  onconnection: (status: number, handle: RawHandle | undefined) => void;
  listen(backlog: number): number;
  close(): void;
}

/** node's own default backlog for server.listen(). */
const BACKLOG = 511;

function send(message: WorkerMessage, then?: () => void): void {
  if (!process.connected || process.send === undefined) {
    then?.();
    return;
  }
  process.send(message, undefined, {}, () => then?.());
}

function readConfig(): WorkerConfig {
  const raw = process.env[WORKER_CONFIG_ENV];
  if (raw === undefined) {
    process.stderr.write('warden: this file is started by `warden serve`, not directly\n');
    process.exit(2);
  }
  return JSON.parse(raw) as WorkerConfig;
}

/** Exit once the message is out, but never hang on a dead channel. */
function exitAfter(message: WorkerMessage, code: number): void {
  const timer = setTimeout(() => process.exit(code), 1000);
  send(message, () => {
    clearTimeout(timer);
    process.exit(code);
  });
}

let booted = false;

function onFatal(error: unknown): void {
  const serialized = serializeError(error);
  // A load error warden raised itself is reported once, by the primary; its stack is warden's own.
  if (serialized.code === 'WARDEN_APP_LOAD') delete serialized.stack;
  else process.stderr.write(`${serialized.stack ?? `${serialized.name}: ${serialized.message}`}\n`);
  exitAfter(booted ? { warden: 1, act: 'crash', error: serialized } : { warden: 1, act: 'bootError', error: serialized }, 1);
}

async function main(): Promise<void> {
  const config = readConfig();
  process.title = workerTitle(Number(process.env.WARDEN_WORKER_ID), Number(process.env.WARDEN_WORKER_GENERATION ?? 1), config.modulePath);
  // Ctrl-C in a terminal sends SIGINT to the whole process group; the primary decides how workers stop.
  process.on('SIGINT', () => undefined);
  process.on('uncaughtException', onFatal);
  const primaryPid = Number(process.env[PRIMARY_PID_ENV]);
  // Nobody is left to hand this worker a connection or to stop it.
  if (isOrphaned(primaryPid)) process.exit(0);
  if (process.env[PARENT_DEATH_ENV] !== 'kernel') watchParent(primaryPid);

  const tracker = new RequestTracker(config.requestTimeoutMs, accessLogWriter(config.accessLog ?? 'off', config.logFormat ?? 'text'));
  let draining = false;
  let server: Server | undefined;
  let closeApp: (() => Promise<void>) | undefined;
  const pendingHandles: RawHandle[] = [];
  // node:tls (and the crypto under it) loads only for --tls-cert: about 1 MB of every plain worker's RSS.
  const terminateTls = config.tls === undefined ? undefined : (await import('./tls.js')).tlsTerminator(config.tls, () => server as Server, (secure, carrier) => tracker.adoptSecure(secure, carrier));
  /** Shared mode: this process's copy of the listening socket while it accepts. */
  let listening: ListeningHandle | undefined;
  const stopAccepting = () => {
    listening?.close();
    listening = undefined;
  };

  const drain = () => {
    if (draining) return;
    draining = true;
    stopAccepting();
    tracker.startDraining();
    // Upgraded connections (WebSockets) have no request to finish: they stay open until the graceful
    // timeout, then get a close frame, just before the primary's kill at that same deadline.
    if (config.gracefulTimeoutMs !== undefined) setTimeout(() => tracker.closeUpgraded(), upgradedCloseDelayMs(config.gracefulTimeoutMs)).unref();
    // Done when every connection has closed: the last responses went out with `Connection: close`
    // and the quiet connections were closed (connections.ts says why "quiet" and not just "idle").
    const poll = setInterval(() => {
      tracker.closeIdle();
      if (tracker.inFlightCount > 0 || tracker.socketCount > 0) return;
      clearInterval(poll);
      // The app's clean-up runs once, after its last request; the primary's drain deadline bounds it.
      const hook = closeApp;
      closeApp = undefined;
      if (hook === undefined) process.exit(0);
      hook().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`warden: the app's close hook failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
          process.exit(1);
        },
      );
    }, 25);
  };
  // An operator's `kill -TERM <worker pid>` asks for a replacement: the primary starts one first and
  // then drains this worker, as for --max-requests. Without a primary to ask, drain at once.
  process.on('SIGTERM', () => {
    if (process.connected && booted) send({ warden: 1, act: 'sigterm' });
    else drain();
  });
  // An app that exits by itself in the middle of a drain (its own signal handler, process.exit())
  // cuts the requests still in flight; a code of 0 would tell the primary the drain finished.
  process.on('exit', (code) => {
    if (!draining || code !== 0 || tracker.inFlightCount === 0) return;
    process.stderr.write(`warden: the app exited on its own with ${tracker.inFlightCount} request(s) in flight during a drain\n`);
    process.exitCode = 1;
  });
  // The primary is gone (its IPC channel closed): nobody can hand over connections or judge health.
  process.on('disconnect', () => {
    tracker.destroyAll();
    process.exit(0);
  });

  // Connections arrive as raw handles; one that comes while the app is still loading (only a probe
  // could) waits for the server.
  process.on('message', (received: unknown, handle: unknown) => {
    const message = parsePrimaryMessage(received);
    if (message === undefined) return;
    if (message.act === 'drain') {
      drain();
      return;
    }
    if (message.act === 'listen') {
      startAccepting(handle as ListeningHandle | undefined, message.returnCopy);
      return;
    }
    if (message.act === 'unlisten') {
      stopAccepting();
      return;
    }
    if (message.act === 'report') {
      send({ warden: 1, act: 'report', report: tracker.report() });
      return;
    }
    if (message.act === 'heapSnapshot') {
      send({ warden: 1, act: 'heapSnapshot', result: takeHeapSnapshot(message.dir, message.maxHeapBytes) });
      return;
    }
    const raw = handle as RawHandle | undefined;
    if (monotonicMs() > message.expiresAt) {
      // Too late: the primary may already have given this connection to another worker. Closing
      // this process's copy of the descriptor leaves the connection itself open.
      raw?.close();
      send({ warden: 1, act: 'rejected', id: message.id });
      return;
    }
    send({ warden: 1, act: 'accepted', id: message.id, connections: tracker.connectionCount + 1 });
    if (raw === undefined) return;
    if (server === undefined) pendingHandles.push(raw);
    else hand(server, raw);
  });

  /** Shared mode: accept from the listening socket; every accepted connection goes to the app's server. */
  const startAccepting = (copy: ListeningHandle | undefined, returnCopy: boolean) => {
    if (copy === undefined) {
      send({ warden: 1, act: 'listening', error: 'no listening handle came with the message' });
      return;
    }
    const target = server;
    if (target === undefined || draining || listening !== undefined) {
      // Not ready, on its way out (the primary takes it out of rotation next), or accepting already
      // (a repeated message): keep nothing.
      copy.close();
      if (target === undefined) send({ warden: 1, act: 'listening', error: 'the app is not loaded yet' });
      return;
    }
    // A non-zero status is a failed accept (EMFILE and the like); libuv retries on the next event.
    copy.onconnection = (status, raw) => {
      if (status === 0 && raw !== undefined) hand(target, raw);
    };
    // listen(2) on a socket that is listening already only sets the backlog, then libuv polls it.
    const code = copy.listen(config.backlog ?? BACKLOG);
    if (code !== 0) {
      copy.close();
      send({ warden: 1, act: 'listening', error: `listen failed (libuv error ${code})` });
      return;
    }
    listening = copy;
    if (!returnCopy) return;
    if (!process.connected || process.send === undefined) return;
    process.send({ warden: 1, act: 'listening' }, copy as unknown as Parameters<typeof process.send>[1]);
  };

  /** Wrap the raw handle as node:net would on its own accept, and give it to the app's server. */
  const hand = (target: Server, raw: RawHandle) => {
    const options = { handle: raw, readable: true, writable: true, allowHalfOpen: (target as { allowHalfOpen?: boolean }).allowHalfOpen ?? false };
    const socket = new Socket(options as ConstructorParameters<typeof Socket>[0]);
    // node:http sets TCP_NODELAY when it accepts a connection itself; a handed-over socket skips that
    // path, and without it a response written in two pieces waits ~40 ms for Nagle's algorithm.
    socket.setNoDelay(true);
    tracker.addSocket(socket);
    if (terminateTls === undefined) target.emit('connection', socket);
    else terminateTls(socket);
  };

  // The app sees the process.argv that `node app.js ARGS...` would give it.
  process.argv = [process.argv[0] as string, config.modulePath, ...(config.args ?? [])];
  const loaded = await loadApp({
    modulePath: config.modulePath,
    ...(config.exportName === undefined ? {} : { exportName: config.exportName }),
    factory: config.factory,
    port: config.port,
    address: config.address,
    listenWaitMs: loaderWaitMs(config.listenWaitMs),
  });
  server = loaded.server;
  closeApp = loaded.close;
  if (isHttpServer(server)) {
    tracker.attach(server);
    limitConcurrency(server, config.maxConcurrency ?? 0, () => tracker.inFlightCount, (req, status) => tracker.countRefused(req, status));
  }
  if (loaded.shape !== 'self-listen') {
    // The server is never bound here; report the primary's address, and run the 'listening' hooks
    // (node:http starts its connection bookkeeping on 'listening').
    const address = config.address;
    server.address = () => address;
    server.emit('listening');
  }
  for (const raw of pendingHandles.splice(0)) hand(server, raw);
  booted = true;
  send({ warden: 1, act: 'ready', shape: loaded.shape });
  startHeartbeat(tracker, { intervalMs: config.heartbeatIntervalMs, idleIntervalMs: config.idleHeartbeatIntervalMs }, (stats) => send({ warden: 1, act: 'heartbeat', stats }));
  startAppMetrics(config.modulePath, 1000, (metrics) => send({ warden: 1, act: 'metrics', metrics: metrics as AppMetric[] }));
}

main().catch(onFatal);

/**
 * The primary passes --boot-timeout, which it counts from the spawn; the loader gives up on a late
 * listen() a little sooner, so the operator reads the loader's error (what the module exports, which
 * port it should listen on) instead of a bare boot timeout.
 */
function loaderWaitMs(bootTimeoutMs: number): number {
  return Math.max(bootTimeoutMs - Math.min(1000, bootTimeoutMs / 4), 0);
}
