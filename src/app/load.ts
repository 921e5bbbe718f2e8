// The app loader, run inside each worker: turns the user's module into a net.Server that is bound to
// no port, which the worker feeds with the sockets the primary accepts (server.emit('connection')).
// Every failure is a WardenError('WARDEN_APP_LOAD') naming the module and the cause; it never exits
// the process or logs.

import type { RequestListener } from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { http } from '../net/node-http.js';
import { errnoCode, WardenError } from '../errors.js';
import { prepareTypeScript, type TypeScriptMode } from '../os/typescript.js';
import { importModule, type ImportResult } from './import-module.js';
import { installListenIntercept, presentAddress, type ListenIntercept, type ServiceAddress } from './listen-intercept.js';
import { ACCEPTED_SHAPES, describeValue, detectShape, pickExport, type ExportShape } from './shape.js';
import { syntaxErrorLocation, type SourceLocation } from './source-location.js';

export interface LoadAppOptions {
  /** Absolute path to the user's module. */
  modulePath: string;
  /** From `module:export`; the default export when absent. */
  exportName?: string;
  /** --factory: the export is a (sync or async) function returning the app. */
  factory: boolean;
  /** warden's service port (the primary also sets it as process.env.PORT). */
  port: number;
  /** What server.address() reports, for every shape. */
  address: ServiceAddress;
  /**
   * How long to wait for a script that calls listen() itself when its module exports nothing
   * usable; the primary passes a little less than --boot-timeout, so this message wins over the
   * primary's boot timeout.
   */
  listenWaitMs: number;
}

export type AppShape = ExportShape | 'self-listen';

export interface LoadedApp {
  server: net.Server;
  shape: AppShape;
  viaFactory: boolean;
  /**
   * The app's own clean-up, awaited by the worker after its last request on drain: the module's
   * `close` export, else the app's own close() (Fastify, an http.Server); undefined when it has none.
   */
  close: (() => Promise<void>) | undefined;
}

/**
 * Imports the module and adapts what it exports. listen() on `port` is intercepted before the import
 * and stays intercepted after a successful load: the port belongs to the primary, so a listen() the
 * app makes later must not try to bind it either (it would fail with EADDRINUSE).
 */
export async function loadApp(options: LoadAppOptions): Promise<LoadedApp> {
  const intercept = installListenIntercept(options.port, options.address);
  try {
    const loaded = await load(options, intercept);
    presentAddress(loaded.server, options.address);
    return loaded;
  } catch (error) {
    intercept.uninstall();
    throw error;
  }
}

async function load(options: LoadAppOptions, intercept: ListenIntercept): Promise<LoadedApp> {
  const target = new Target(options);
  const typeScript = await prepareTypeScript(options.modulePath);
  const imported = await importModule(options.modulePath);
  if (imported.kind !== 'imported') throw importError(target, imported, typeScript);

  const picked = pickExport(imported.namespace, options.exportName);
  if (!picked.isFound && options.exportName !== undefined) {
    throw target.error(`it has no export named "${options.exportName}" (exports: ${listOrNone(picked.available)})`, {
      hint: `put one of the listed names after ":", or drop ":${options.exportName}" to use the default export`,
    });
  }
  let candidate = picked.isFound ? picked.value : undefined;
  if (options.factory) candidate = await callFactory(target, candidate, picked.isFound);

  // One turn of the event loop lets a listen() made during the import emit 'listening'.
  await new Promise((resolve) => setImmediate(resolve));
  const viaFactory = options.factory;
  // A server the app started itself wins over its export: the app chose how to set it up.
  const closeExport = imported.namespace.close;
  const hookOf = (app: unknown, server: net.Server) => closeHook(typeof closeExport === 'function' ? closeExport : undefined, app, server);
  if (intercept.captured() !== undefined) {
    const server = await intercept.listened;
    return { server, shape: 'self-listen', viaFactory, close: hookOf(server, server) };
  }

  const verdict = detectShape(candidate);
  if (verdict.isUsable) {
    const server = await adapt(target, verdict.shape, candidate);
    return { server, shape: verdict.shape, viaFactory, close: hookOf(candidate, server) };
  }

  const waited = await waitForListen(intercept, options.listenWaitMs);
  if (waited !== 'timed-out') return { server: waited, shape: 'self-listen', viaFactory, close: hookOf(waited, waited) };

  let found = `its ${target.exportLabel} is ${verdict.got}`;
  if (options.factory) found = `the factory returned ${verdict.got}`;
  else if (!picked.isFound) found = `it has no default export (exports: ${listOrNone(picked.available)})`;
  const listenPart = `no server called listen(${options.port}) within ${options.listenWaitMs} ms`;
  throw target.error(`no usable export: ${found}, and ${listenPart}`, {
    hint: `export ${ACCEPTED_SHAPES}, or a function returning one with --factory; a script that starts ` +
      `its own server must listen on process.env.PORT`,
  });
}

/**
 * The clean-up to await on drain. A `close` export wins (the app said what to release); otherwise an
 * app object with its own close() (Fastify's closes its plugins and hooks, an http.Server stops).
 * The server warden serves was never bound here, so node's ERR_SERVER_NOT_RUNNING is expected.
 */
function closeHook(exported: Function | undefined, app: unknown, server: net.Server): (() => Promise<void>) | undefined {
  if (exported !== undefined) return async () => void (await exported());
  const own = typeof app === 'object' && app !== null ? (app as { close?: unknown }).close : undefined;
  if (typeof own !== 'function') return undefined;
  if (app === server) {
    return () => new Promise<void>((resolve, reject) => {
      (app as net.Server).close((error) => {
        if (error !== undefined && (error as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(error);
        else resolve();
      });
    });
  }
  return async () => void (await (own as () => unknown).call(app));
}

/**
 * Waits for a script that calls listen() itself (after a timer, a connection, a file read, a
 * framework's async bootstrap), up to `listenWaitMs`. There is deliberately no early "this script
 * can never listen" verdict: guessing from the process's pending resources once refused apps that
 * were about to listen (a resource of the app's cancelled one of warden's in the comparison), and an
 * app refused by a guess is worse than a boot error that comes after the wait.
 */
function waitForListen(intercept: ListenIntercept, listenWaitMs: number): Promise<net.Server | 'timed-out'> {
  return new Promise((resolve) => {
    // Ref'd, so the wait keeps the process alive on its own.
    const deadline = setTimeout(() => resolve('timed-out'), listenWaitMs);
    void intercept.listened.then((server) => {
      clearTimeout(deadline);
      resolve(server);
    });
  });
}

async function callFactory(target: Target, factory: unknown, isFound: boolean): Promise<unknown> {
  if (typeof factory !== 'function') {
    const what = isFound ? `its ${target.exportLabel} is ${describeValue(factory)}` : 'it has no default export';
    throw target.error(`--factory was given, but ${what}, not a function`, {
      hint: 'export a function that returns the app, or run without --factory',
    });
  }
  let result: unknown;
  try {
    result = (factory as () => unknown)();
  } catch (error) {
    throw factoryError(target, 'threw', error);
  }
  try {
    return await result;
  } catch (error) {
    throw factoryError(target, 'rejected', error);
  }
}

function factoryError(target: Target, verb: 'threw' | 'rejected', error: unknown): WardenError {
  return target.error(`the factory ${verb}: ${errorText(error)}`, {
    hint: `fix the error raised by the factory (${target.exportLabel}); its stack is in the error's cause`,
    cause: error,
  });
}

async function adapt(target: Target, shape: ExportShape, app: unknown): Promise<net.Server> {
  switch (shape) {
    case 'server':
      return app as net.Server;
    case 'listener':
      return http.createServer(app as RequestListener);
    case 'koa':
      return http.createServer((app as { callback(): RequestListener }).callback());
    case 'fastify': {
      const fastify = app as { ready(): Promise<unknown>; server: net.Server };
      try {
        await fastify.ready();
      } catch (error) {
        throw target.error(`the Fastify app failed to become ready: ${errorText(error)}`, {
          hint: 'a plugin or hook failed during ready(); the error names it',
          cause: error,
        });
      }
      return fastify.server;
    }
    case 'fetch':
      return http.createServer(await fetchListener(target, app as { fetch(request: Request, env: unknown): unknown }));
    default: {
      const unhandled: never = shape;
      throw new Error(`app loader: no adapter for shape ${String(unhandled)}`);
    }
  }
}

// @hono/node-server needs the hono package (a peer dependency), so it is imported only for fetch apps.
async function fetchListener(target: Target, app: { fetch(request: Request, env: unknown): unknown }): Promise<RequestListener> {
  try {
    const { getRequestListener } = await import('@hono/node-server');
    return getRequestListener((request, env) => app.fetch(request, env)) as RequestListener;
  } catch (error) {
    throw target.error(`cannot load @hono/node-server to serve its fetch handler: ${errorText(error)}`, {
      hint: 'install hono next to warden (npm install hono): @hono/node-server, which adapts fetch handlers, needs it',
      cause: error,
    });
  }
}

function importError(target: Target, failure: Exclude<ImportResult, { kind: 'imported' }>, typeScript: TypeScriptMode): WardenError {
  const runIt = typeScript === 'tsx' ? `node --import tsx ${target.file}` : `node ${target.file}`;
  switch (failure.kind) {
    case 'not-found':
      return target.error(`file not found (${errorText(failure.error)})`, {
        hint: `check the path; a relative one is resolved from the current directory, ${process.cwd()}`,
        cause: failure.error,
      });
    case 'unresolved':
      return target.error(`cannot resolve an import: ${errorText(failure.error)}`, {
        hint: typeScript === 'native'
          ? 'install the missing package or fix the path; with Node\'s own TypeScript support, imports must name the .ts file'
          : 'install the missing package or fix the import path',
        cause: failure.error,
      });
    case 'syntax': {
      const isUnsupported = errnoCode(failure.error) === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX';
      return target.error(`${syntaxText(failure.error)}${at(failure.location)}`, {
        hint: isUnsupported
          ? 'Node\'s built-in TypeScript support only strips types; enums, namespaces and parameter properties need a build step'
          : `run \`${runIt}\` to see the full error`,
        cause: failure.error,
      });
    }
    case 'threw':
      return target.error(`it threw while being imported: ${errorText(failure.error)}${at(failure.location)}`, {
        hint: `the error comes from the module's top-level code; run \`${runIt}\` to see the full stack`,
        cause: failure.error,
      });
    default: {
      const unhandled: never = failure;
      throw new Error(`app loader: unhandled import result ${JSON.stringify(unhandled)}`);
    }
  }
}

/** The module as the operator would recognise it, and the errors that name it. */
class Target {
  /** The module path, relative to the current directory when that is shorter. */
  readonly file: string;
  readonly exportLabel: string;
  private readonly label: string;

  constructor(options: LoadAppOptions) {
    this.file = displayPath(options.modulePath, { isCommand: true });
    this.label = options.exportName === undefined ? this.file : `${this.file}:${options.exportName}`;
    this.exportLabel = options.exportName === undefined ? 'default export' : `export "${options.exportName}"`;
  }

  error(detail: string, options: { hint: string; cause?: unknown }): WardenError {
    return new WardenError('WARDEN_APP_LOAD', `cannot load app "${this.label}": ${detail}`, options);
  }
}

function displayPath(absolute: string, { isCommand }: { isCommand: boolean }): string {
  const relative = path.relative(process.cwd(), absolute);
  // "./" keeps a relative path runnable (`node ./app.js`) and tells it apart from a package name.
  const shown = isCommand && !relative.startsWith('..') ? `./${relative}` : relative;
  return shown.length < absolute.length ? shown : absolute;
}

function at(location: SourceLocation | undefined): string {
  if (location === undefined) return '';
  const column = location.column === undefined ? '' : `:${location.column}`;
  return ` (${displayPath(location.file, { isCommand: false })}:${location.line}${column})`;
}

function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

// tsx (esbuild) reports "Transform failed with 1 error:\n<file>:<line>:<column>: ERROR: <text>";
// the location is shown apart, so keep only the text, worded like Node's own parse errors.
function syntaxText(error: unknown): string {
  const text = errorText(error);
  const esbuild = / ERROR: (.*)$/m.exec(text);
  return esbuild !== null && syntaxErrorLocation(text) !== undefined ? `SyntaxError: ${esbuild[1]}` : text;
}

function listOrNone(names: readonly string[]): string {
  return names.length === 0 ? 'none' : names.join(', ');
}
