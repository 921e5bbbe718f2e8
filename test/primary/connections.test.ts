// The connection dispatcher's bookkeeping with fake handles and injected time: who gets a connection,
// what is held while no worker is in rotation, and what is taken back from a worker that does not
// acknowledge (frozen) or that dies. No sockets: the listener is not started.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionDispatcher } from '../../src/primary/connections.js';
import type { ConnectionHandle } from '../../src/primary/raw-accept.js';

class FakeHandle implements ConnectionHandle {
  closed = false;
  constructor(readonly name: string) {}
  close(): void {
    this.closed = true;
  }
  getpeername(): number {
    return 0;
  }
}

function setup() {
  let now = 0;
  const sent: { worker: number; id: number; expiresAt: number; handle: FakeHandle }[] = [];
  const dispatcher = new ConnectionDispatcher({ holdLimit: 2, holdTimeoutMs: 5000, slowAckMs: 200, acceptWindowMs: 500, reclaimAfterMs: 1000, now: () => now });
  for (const worker of [1, 2]) {
    dispatcher.addWorker(worker, { send: (id, expiresAt, handle) => sent.push({ worker, id, expiresAt, handle: handle as FakeHandle }) });
  }
  return { dispatcher, sent, at: (ms: number) => (now = ms) };
}

test('connections go round-robin to the workers in rotation, with a deadline the worker must respect', () => {
  const { dispatcher, sent } = setup();
  dispatcher.setRotation([1, 2]);
  for (const name of ['a', 'b', 'c', 'd']) dispatcher.accept(new FakeHandle(name));
  assert.deepEqual(sent.map((s) => s.worker), [1, 2, 1, 2]);
  assert.ok(sent.every((s) => s.expiresAt === 500), 'accept window from the send time');
});

test('the primary closes its copy only when the worker acknowledges', () => {
  const { dispatcher, sent } = setup();
  dispatcher.setRotation([1]);
  dispatcher.accept(new FakeHandle('a'));
  const [first] = sent;
  assert.ok(first);
  assert.equal(first.handle.closed, false);
  dispatcher.acknowledge(2, first.id);
  assert.equal(first.handle.closed, false, 'an acknowledgement from another worker is ignored');
  dispatcher.acknowledge(1, first.id);
  assert.equal(first.handle.closed, true);
  assert.equal(dispatcher.pendingCount(1), 0);
});

test('a worker slow to acknowledge is passed over, and its hand-offs are taken back after the deadline', () => {
  const { dispatcher, sent, at } = setup();
  dispatcher.setRotation([1, 2]);
  dispatcher.accept(new FakeHandle('to-frozen'));
  at(300);
  for (const name of ['b', 'c', 'd']) dispatcher.accept(new FakeHandle(name));
  assert.deepEqual(sent.slice(1).map((s) => s.worker), [2, 2, 2], 'worker 1 has a hand-off unacknowledged for 300 ms');
  for (const s of sent.slice(1)) dispatcher.acknowledge(2, s.id);
  // Not before reclaimAfterMs (1000): the worker may take it until its accept window (500) ends, and
  // a copy given to another worker meanwhile would be served twice.
  at(999);
  dispatcher.sweep();
  assert.equal(sent.length, 4, 'not taken back before the deadline');
  assert.equal(dispatcher.stats.reclaimed, 0);
  assert.equal(dispatcher.pendingCount(1), 1);
  at(1000);
  dispatcher.sweep();
  assert.equal(sent.length, 5, 'taken back once the deadline is reached');
  const resent = sent[sent.length - 1];
  assert.equal(resent?.handle.name, 'to-frozen', 'the frozen worker\'s connection goes to another worker');
  assert.equal(resent?.worker, 2);
  assert.equal(resent?.handle.closed, false, 'and is still open');
  assert.equal(dispatcher.stats.reclaimed, 1);
});

test('a refused (too late) hand-off goes to another worker at once', () => {
  const { dispatcher, sent } = setup();
  dispatcher.setRotation([1, 2]);
  dispatcher.accept(new FakeHandle('a'));
  dispatcher.reclaim(1, sent[0]?.id as number);
  assert.deepEqual(sent.map((s) => [s.worker, s.handle.name]), [[1, 'a'], [2, 'a']]);
});

test('a worker that dies leaves its unacknowledged connections to the others', () => {
  const { dispatcher, sent } = setup();
  dispatcher.setRotation([1, 2]);
  dispatcher.accept(new FakeHandle('a'));
  dispatcher.removeWorker(1);
  assert.deepEqual(sent.map((s) => [s.worker, s.handle.name]), [[1, 'a'], [2, 'a']]);
  assert.equal(dispatcher.stats.rerouted, 1);
});

test('with no worker in rotation connections are held, up to a limit and a time, then served in order', () => {
  const { dispatcher, sent, at } = setup();
  dispatcher.setRotation([]);
  const held = [new FakeHandle('a'), new FakeHandle('b'), new FakeHandle('c')];
  for (const handle of held) dispatcher.accept(handle);
  assert.equal(sent.length, 0);
  assert.equal(held[2]?.closed, true, 'over the hold limit: closed');
  at(1000);
  dispatcher.setRotation([2]);
  assert.deepEqual(sent.map((s) => s.handle.name), ['a', 'b']);
  for (const s of sent) dispatcher.acknowledge(2, s.id);
  dispatcher.setRotation([]);
  const late = new FakeHandle('late');
  dispatcher.accept(late);
  at(7000);
  dispatcher.sweep();
  assert.equal(late.closed, true, 'held longer than the hold time: dropped');
  assert.equal(dispatcher.stats.dropped, 2);
});
