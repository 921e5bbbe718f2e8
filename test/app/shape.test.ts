// Unit tests for the pure shape table in src/app/shape.ts, run against real framework instances
// (Express, Koa, Fastify, Hono) created in-process but never listening.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { describeValue, detectShape, exportNames, pickExport } from '../../src/app/shape.js';

// The frameworks ship no types this project installs (or ship them only for ESM), so load them plainly.
const require = createRequire(import.meta.url);
const express = require('express') as () => unknown;
const Koa = require('koa') as new () => unknown;
const fastify = require('fastify') as () => { server: net.Server; close(): Promise<void> };
const { Hono } = require('hono') as { Hono: new () => unknown };

describe('detectShape', () => {
  test('an Express app (a function with listen()) is a request listener', () => {
    assert.deepEqual(detectShape(express()), { isUsable: true, shape: 'listener' });
  });

  test('a plain (req, res) function is a request listener', () => {
    assert.deepEqual(detectShape((req: unknown, res: unknown) => [req, res]), { isUsable: true, shape: 'listener' });
  });

  test('a Koa app is detected by callback() before anything else it has', () => {
    assert.deepEqual(detectShape(new Koa()), { isUsable: true, shape: 'koa' });
  });

  test('a Fastify instance that is not listening is fastify', async (t) => {
    const app = fastify();
    t.after(() => app.close());
    assert.deepEqual(detectShape(app), { isUsable: true, shape: 'fastify' });
  });

  test('a Hono app is a fetch handler', () => {
    assert.deepEqual(detectShape(new Hono()), { isUsable: true, shape: 'fetch' });
  });

  test('a callable with fetch() is a fetch handler, not a listener', () => {
    const handler = Object.assign(() => undefined, { fetch: () => new Response('ok') });
    assert.deepEqual(detectShape(handler), { isUsable: true, shape: 'fetch' });
  });

  test('an http.Server and a net.Server that are not listening are servers', () => {
    assert.deepEqual(detectShape(http.createServer()), { isUsable: true, shape: 'server' });
    assert.deepEqual(detectShape(net.createServer()), { isUsable: true, shape: 'server' });
  });

  test('an http.Server that is already listening is not usable', async (t) => {
    const server = http.createServer().listen(0, '127.0.0.1');
    t.after(() => server.close());
    await once(server, 'listening');
    assert.deepEqual(detectShape(server), { isUsable: false, got: 'an http.Server that is already listening' });
  });

  test('values that are no app say what they are', () => {
    const cases: Array<[unknown, string]> = [
      [42, 'a number (42)'],
      ['app', 'a string ("app")'],
      [undefined, 'undefined'],
      [null, 'null'],
      [{}, 'an empty object'],
      [{ port: 1, host: 'h' }, 'an object with keys port, host'],
      [class App {}, 'a class App'],
      [async function createApp() {}, 'an async function createApp that takes no arguments (a factory? pass --factory)'],
      [Promise.resolve(1), 'a Promise (export the async function instead and pass --factory)'],
    ];
    for (const [value, got] of cases) {
      assert.deepEqual(detectShape(value), { isUsable: false, got }, `for ${describeValue(value)}`);
    }
  });
});

describe('pickExport', () => {
  test('the default export is used when no name is given', () => {
    assert.deepEqual(pickExport({ default: 1, app: 2 }), { isFound: true, value: 1 });
  });

  test('a module without a default export reports its named exports', () => {
    assert.deepEqual(pickExport({ app: 2, other: 3 }), { isFound: false, available: ['app', 'other'] });
  });

  test('a named export is taken from the namespace first', () => {
    assert.deepEqual(pickExport({ default: { app: 1 }, app: 2 }, 'app'), { isFound: true, value: 2 });
  });

  test('a CommonJS export that static analysis missed is found on module.exports', () => {
    assert.deepEqual(pickExport({ default: { app: 1 } }, 'app'), { isFound: true, value: 1 });
  });

  test('a missing name lists the exports, without Node\'s "module.exports" key', () => {
    const namespace = { default: { app: 1, other: 2 }, 'module.exports': { app: 1, other: 2 }, app: 1 };
    assert.deepEqual(pickExport(namespace, 'nope'), { isFound: false, available: ['app', 'default', 'other'] });
  });

  test('a transpiled ES module ({ __esModule, default }) is unwrapped', () => {
    const listener = (): void => undefined;
    assert.deepEqual(pickExport({ default: { __esModule: true, default: listener } }), { isFound: true, value: listener });
  });

  test('exportNames leaves out __esModule', () => {
    assert.deepEqual(exportNames({ default: { __esModule: true, default: 1, app: 2 } }), ['app', 'default']);
  });
});
