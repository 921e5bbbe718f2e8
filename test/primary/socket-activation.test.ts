// Which inherited descriptors warden serves on, from LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES and --fd.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWardenError } from '../../src/errors.js';
import { inheritedSockets } from '../../src/primary/socket-activation.js';

const PID = 4242;

test('no socket activation: nothing inherited', () => {
  assert.deepEqual(inheritedSockets({}, PID, undefined), { service: undefined, admin: undefined, source: undefined });
});

test('LISTEN_PID of another process (a leaked variable) is ignored', () => {
  assert.equal(inheritedSockets({ LISTEN_PID: '1', LISTEN_FDS: '1' }, PID, undefined).service, undefined);
});

test('one unnamed descriptor is the service\'s', () => {
  assert.deepEqual(inheritedSockets({ LISTEN_PID: String(PID), LISTEN_FDS: '1', LISTEN_FDNAMES: 'unknown' }, PID, undefined), { service: 3, admin: undefined, source: 'systemd (fd 3)' });
});

test('names pick the service and admin descriptors, in any order', () => {
  const env = { LISTEN_PID: String(PID), LISTEN_FDS: '2', LISTEN_FDNAMES: 'admin:service' };
  assert.deepEqual(inheritedSockets(env, PID, undefined), { service: 4, admin: 3, source: 'systemd (LISTEN_FDNAMES service)' });
});

test('--fd wins for the service; an activated admin socket is still used', () => {
  const env = { LISTEN_PID: String(PID), LISTEN_FDS: '2', LISTEN_FDNAMES: 'service:admin' };
  assert.deepEqual(inheritedSockets(env, PID, 7), { service: 7, admin: 4, source: '--fd 7' });
  assert.deepEqual(inheritedSockets({}, PID, 5), { service: 5, admin: undefined, source: '--fd 5' });
});

test('several descriptors, none named service: refused, naming FileDescriptorName', () => {
  assert.throws(() => inheritedSockets({ LISTEN_PID: String(PID), LISTEN_FDS: '2', LISTEN_FDNAMES: 'a:b' }, PID, undefined),
    (error: unknown) => isWardenError(error) && error.code === 'WARDEN_CONFIG' && /FileDescriptorName=service/.test(error.hint ?? ''));
});
