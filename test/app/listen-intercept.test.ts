// Tests for src/app/listen-intercept.ts in this process, with real servers: listen() on warden's port
// is answered without binding it, any other listen() binds as usual.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { installListenIntercept, requestedPort } from '../../src/app/listen-intercept.js';

describe('requestedPort', () => {
  test('reads a number, a numeric string and the options form', () => {
    assert.equal(requestedPort([8000]), 8000);
    assert.equal(requestedPort(['8000', () => undefined]), 8000);
    assert.equal(requestedPort([{ port: 8000, host: '127.0.0.1' }]), 8000);
    assert.equal(requestedPort([{ port: '8000' }]), 8000);
  });

  test('a pipe path, a handle or no port is not a port', () => {
    assert.equal(requestedPort(['/tmp/app.sock']), undefined);
    assert.equal(requestedPort([{ path: '/tmp/app.sock' }]), undefined);
    assert.equal(requestedPort([{ fd: 3 }]), undefined);
    assert.equal(requestedPort([]), undefined);
    assert.equal(requestedPort([() => undefined]), undefined);
  });
});

describe('installListenIntercept', () => {
  // warden's port, really held here as the primary holds it: a listen() that did bind would fail.
  const holder = net.createServer();
  let port = 0;
  before(async () => {
    holder.listen(0);
    await once(holder, 'listening');
    port = (holder.address() as net.AddressInfo).port;
  });
  after(() => holder.close());

  test("listen(process.env.PORT, cb) on warden's port calls back without binding", async (t) => {
    const address = { address: '127.0.0.1', family: 'IPv4', port };
    const intercept = installListenIntercept(port, address);
    t.after(() => intercept.uninstall());
    const server = http.createServer();
    t.after(() => server.close());
    const errors: unknown[] = [];
    server.on('error', (error) => errors.push(error));
    let callbackCount = 0;

    const returned = server.listen(String(port), () => callbackCount++);

    assert.equal(returned, server, 'listen() returns the server, for chaining');
    assert.equal(callbackCount, 0, 'the callback runs on a later tick, as after a real bind');
    assert.equal(await intercept.listened, server);
    assert.equal(callbackCount, 1, 'the listen callback ran once');
    assert.equal(intercept.captured(), server);
    assert.deepEqual(server.address(), address);
    assert.equal(server.listening, false, 'no socket was bound');
    assert.deepEqual(errors, []);
  });

  test('the options form is intercepted too, and a second server on the port is answered but not captured', async (t) => {
    const address = { address: '::', family: 'IPv6', port };
    const intercept = installListenIntercept(port, address);
    t.after(() => intercept.uninstall());
    const first = net.createServer();
    const second = net.createServer();
    t.after(() => first.close());
    t.after(() => second.close());

    first.listen({ port, host: '127.0.0.1' });
    second.listen({ port, host: '::1' });
    await Promise.all([once(first, 'listening'), once(second, 'listening')]);

    assert.equal(intercept.captured(), first);
    assert.deepEqual(second.address(), address);
  });

  test('listen() on any other port binds normally', async (t) => {
    const intercept = installListenIntercept(port, { address: '127.0.0.1', family: 'IPv4', port });
    t.after(() => intercept.uninstall());
    const other = http.createServer();
    t.after(() => other.close());

    other.listen(0, '127.0.0.1');
    await once(other, 'listening');

    assert.equal(other.listening, true);
    assert.notEqual((other.address() as net.AddressInfo).port, port);
    assert.equal(intercept.captured(), undefined);
  });

  test('uninstall restores the original listen()', () => {
    const original = net.Server.prototype.listen;
    const intercept = installListenIntercept(port, { address: '127.0.0.1', family: 'IPv4', port });
    assert.notEqual(net.Server.prototype.listen, original);
    intercept.uninstall();
    assert.equal(net.Server.prototype.listen, original);
  });

  test('after uninstall, a wrapper installed over the intercept passes listen() through to a real bind', async (t) => {
    const original = net.Server.prototype.listen;
    const intercept = installListenIntercept(port, { address: '127.0.0.1', family: 'IPv4', port });
    const intercepted = net.Server.prototype.listen;
    // As an APM agent would: wrap whatever listen() is there.
    net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
      return Reflect.apply(intercepted, this, args) as net.Server;
    } as typeof original;
    t.after(() => {
      net.Server.prototype.listen = original;
    });
    intercept.uninstall();
    const server = net.createServer();
    t.after(() => server.close());
    const failed = once(server, 'error');

    server.listen(port);

    const [error] = (await failed) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'EADDRINUSE', 'the call reached a real bind, which the held port refuses');
    assert.equal(intercept.captured(), undefined);
  });
});
