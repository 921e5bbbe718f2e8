// Pure parts of upgraded-connection handling in a worker: when they close and what counts as a WebSocket.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLOSE_FRAME_GOING_AWAY, isSwitchingProtocols, upgradedCloseDelayMs } from '../../src/worker/connection-close.js';

test('upgraded connections close just before the graceful timeout: a fifth of it earlier, at most one second', () => {
  assert.equal(upgradedCloseDelayMs(30_000), 29_000);
  assert.equal(upgradedCloseDelayMs(4000), 3200);
  assert.equal(upgradedCloseDelayMs(1000), 800);
  assert.equal(upgradedCloseDelayMs(1), 1);
});

test('only a 101 answer makes an upgrade a WebSocket warden may close with a frame', () => {
  assert.equal(isSwitchingProtocols('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'), true);
  assert.equal(isSwitchingProtocols(Buffer.from('HTTP/1.1 101 Switching Protocols\r\n')), true);
  assert.equal(isSwitchingProtocols('HTTP/1.1 400 Bad Request\r\n\r\n'), false);
  assert.equal(isSwitchingProtocols('HTTP/1.1 1010 nonsense'), false);
  assert.equal(isSwitchingProtocols(undefined), false);
});

test('the close frame is an unmasked, final close with status 1001', () => {
  assert.deepEqual([...CLOSE_FRAME_GOING_AWAY], [0x88, 0x02, 0x03, 0xe9]);
  assert.equal(CLOSE_FRAME_GOING_AWAY.readUInt16BE(2), 1001);
});
