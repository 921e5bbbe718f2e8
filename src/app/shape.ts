// Pure: which export of the user's module to use, and which app shape it has. No I/O, no imports
// of user code, no servers created; load.ts acts on the verdicts. The order of SHAPE_TABLE is the
// contract: the first matching row wins.

import net from 'node:net';
import { http } from '../net/node-http.js';

export type ExportShape = 'listener' | 'koa' | 'fastify' | 'fetch' | 'server';

export type ShapeVerdict = { isUsable: true; shape: ExportShape } | { isUsable: false; got: string };

/** The accepted shapes, worded for error hints. */
export const ACCEPTED_SHAPES =
  'a request listener (req, res) => {...} such as an Express app, a Koa app, a Fastify instance that ' +
  'is not listening, an object with fetch(request) such as a Hono app, or an http.Server that is not listening';

type Row = readonly [ExportShape, (value: unknown) => boolean];

const SHAPE_TABLE: readonly Row[] = [
  // A server first: it is an EventEmitter and must not be mistaken for anything with methods.
  ['server', (value) => value instanceof net.Server && !value.listening],
  // Fastify before fetch/listener: a Fastify instance is an object whose `server` is an http.Server.
  ['fastify', (value) => hasMethod(value, 'ready') && isIdleServer(property(value, 'server')) === true],
  // Koa: callback() returns the request listener; `use` keeps other objects with a callback out.
  ['koa', (value) => hasMethod(value, 'callback') && hasMethod(value, 'use')],
  // fetch before listener: a web-standard handler says how it wants to be called, even if callable.
  ['fetch', (value) => hasMethod(value, 'fetch')],
  // Last: any plain function, which covers an Express app (a function that also has listen()).
  ['listener', (value) => typeof value === 'function' && !isClass(value) && !looksLikeFactory(value)],
];

export function detectShape(value: unknown): ShapeVerdict {
  for (const [shape, matches] of SHAPE_TABLE) {
    if (matches(value)) return { isUsable: true, shape };
  }
  return { isUsable: false, got: describeValue(value) };
}

/** What an unusable export is, for "its default export is <got>". */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (value === null) return 'null';
  if (value instanceof net.Server) {
    return `${value instanceof http.Server ? 'an http.Server' : `a ${value.constructor.name}`} that is already listening`;
  }
  if (isIdleServer(property(value, 'server')) === false && hasMethod(value, 'ready')) {
    return 'a Fastify instance that is already listening';
  }
  if (typeof value === 'function') {
    const name = value.name === '' ? '' : ` ${value.name}`;
    if (isClass(value)) return `a class${name}`;
    if (looksLikeFactory(value)) return `an async function${name} that takes no arguments (a factory? pass --factory)`;
  }
  if (isThenable(value)) return 'a Promise (export the async function instead and pass --factory)';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0) return 'an empty object';
    const shown = keys.slice(0, 5).join(', ');
    return `an object with keys ${shown}${keys.length > 5 ? ', ...' : ''}`;
  }
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)})`;
  return `a ${typeof value} (${String(value)})`;
}

export type PickedExport = { isFound: true; value: unknown } | { isFound: false; available: string[] };

/**
 * The export to use: the default one, or `exportName`. For CommonJS, `default` is module.exports and
 * a named export may only be on it (Node finds named exports by static analysis, which misses some).
 * A default that is a transpiled ES module ({ __esModule, default }) is unwrapped.
 */
export function pickExport(namespace: Record<string, unknown>, exportName?: string): PickedExport {
  const moduleExports = namespace.default;
  if (exportName === undefined) {
    if (!('default' in namespace)) return { isFound: false, available: exportNames(namespace) };
    const isTranspiledEsm = property(moduleExports, '__esModule') === true && hasOwn(moduleExports, 'default');
    return { isFound: true, value: isTranspiledEsm ? property(moduleExports, 'default') : moduleExports };
  }
  if (exportName in namespace && exportName !== 'module.exports') return { isFound: true, value: namespace[exportName] };
  if (hasOwn(moduleExports, exportName)) return { isFound: true, value: property(moduleExports, exportName) };
  return { isFound: false, available: exportNames(namespace) };
}

/** Export names a user could put after ":", sorted; includes the keys of a CommonJS exports object. */
export function exportNames(namespace: Record<string, unknown>): string[] {
  // Node 23+ adds a 'module.exports' key to CommonJS namespaces; it is not a name to offer.
  const names = new Set(Object.keys(namespace).filter((name) => name !== 'module.exports'));
  const moduleExports = namespace.default;
  if (isPlainObject(moduleExports)) {
    for (const name of Object.keys(moduleExports)) if (name !== '__esModule') names.add(name);
  }
  return [...names].sort();
}

function property(value: unknown, key: string): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  return (value as Record<string, unknown>)[key];
}

function hasOwn(value: unknown, key: string): boolean {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  return Object.hasOwn(value, key);
}

function hasMethod(value: unknown, key: string): boolean {
  return typeof property(value, key) === 'function';
}

/** true: a server that is not listening; false: a listening one; undefined: not a server. */
function isIdleServer(value: unknown): boolean | undefined {
  return value instanceof net.Server ? !value.listening : undefined;
}

function isClass(value: Function): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(value));
}

// A request listener takes (req, res); an async function taking nothing is almost surely a factory
// exported without --factory, and serving it would leave every request hanging.
function looksLikeFactory(value: Function): boolean {
  return value.constructor.name === 'AsyncFunction' && value.length === 0;
}

function isThenable(value: unknown): boolean {
  return hasMethod(value, 'then');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
