// The listener's bookkeeping with fake handles and injected time: who gets a connection,
// what is held while no worker is in rotation, and what is taken back from a worker that does not
// acknowledge (frozen) or that dies. No sockets: the listener is not started.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { Listener } from '../../src/primary/net/listener.js';
import type { ConnectionHandle } from '../../src/primary/net/raw-accept.js';

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
  const dispatcher = new Listener({ holdLimit: 2, holdTimeoutMs: 5000, slowAckMs: 200, acceptWindowMs: 500, reclaimAfterMs: 1000, balance: 'handoff', now: () => now });
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

test('a hand-off never waits behind an unacknowledged one while another worker has none', () => {
  const { dispatcher, sent, at } = setup();
  dispatcher.setRotation([1, 2]);
  dispatcher.accept(new FakeHandle('a'));
  dispatcher.accept(new FakeHandle('b'));
  assert.deepEqual(sent.map((s) => s.worker), [1, 2]);
  // Worker 2 takes its connection at once; worker 1 is blocked on a slow request (5 ms and counting).
  dispatcher.acknowledge(2, sent[1]?.id as number, 1);
  at(5);
  for (const name of ['c', 'd', 'e']) {
    dispatcher.accept(new FakeHandle(name));
    const last = sent[sent.length - 1];
    assert.equal(last?.worker, 2, `${name} goes to the free worker`);
    dispatcher.acknowledge(2, last?.id as number, 1);
  }
  dispatcher.acknowledge(1, sent[0]?.id as number, 1);
  dispatcher.accept(new FakeHandle('f'));
  assert.equal(sent[sent.length - 1]?.worker, 1, 'once worker 1 has caught up it is back in turn');
});

test('with no hand-off pending, the worker that reported fewer open connections gets the next one', () => {
  const { dispatcher, sent } = setup();
  dispatcher.setRotation([1, 2]);
  dispatcher.accept(new FakeHandle('a'));
  dispatcher.accept(new FakeHandle('b'));
  dispatcher.acknowledge(1, sent[0]?.id as number, 7);
  dispatcher.acknowledge(2, sent[1]?.id as number, 2);
  for (const name of ['c', 'd']) {
    dispatcher.accept(new FakeHandle(name));
    dispatcher.acknowledge(2, sent[sent.length - 1]?.id as number, 3);
  }
  assert.deepEqual(sent.slice(2).map((s) => s.worker), [2, 2]);
});

test('shared mode: workers in rotation get the listening socket, leavers are told to stop, and the primary stops accepting once it holds a copy', async () => {
  const dispatcher = new Listener({ holdLimit: 2, holdTimeoutMs: 5000, slowAckMs: 200, acceptWindowMs: 500, reclaimAfterMs: 1000, balance: 'shared' });
  const calls: string[] = [];
  const shared: { worker: number; handle: unknown; returnCopy: boolean }[] = [];
  for (const worker of [1, 2, 3]) {
    dispatcher.addWorker(worker, {
      send: () => calls.push(`send ${worker}`),
      share: (handle, returnCopy) => {
        calls.push(`share ${worker}`);
        shared.push({ worker, handle, returnCopy });
      },
      unshare: () => calls.push(`unshare ${worker}`),
    });
  }
  try {
    await dispatcher.listen('127.0.0.1', 0, 'service');
    dispatcher.setRotation([1]);
    assert.deepEqual(calls, ['share 1']);
    assert.equal(shared[0]?.returnCopy, true, 'asked for a copy while the primary polls its own');
    let keeperClosed = false;
    const copy = { onconnection: () => undefined, close: () => (keeperClosed = true) };
    dispatcher.listening(1, copy, undefined);
    dispatcher.setRotation([1, 2]);
    assert.deepEqual(calls, ['share 1', 'share 2']);
    assert.equal(shared[1]?.handle, copy, 'later workers get the kept copy');
    assert.equal(shared[1]?.returnCopy, false);
    dispatcher.setRotation([1, 2]);
    assert.equal(calls.length, 2, 'no message when nothing changes');
    dispatcher.setRotation([2]);
    assert.deepEqual(calls.slice(2), ['unshare 1'], 'a worker out of rotation is told to stop accepting');
    dispatcher.removeWorker(2);
    assert.equal(calls.length, 3, 'a dead worker is not told anything');
    assert.equal(dispatcher.stats.acceptors, 0);
    dispatcher.setRotation([3, 1]);
    assert.deepEqual(calls.slice(3), ['share 3', 'share 1']);
    dispatcher.listening(3, undefined, 'listen failed');
    assert.equal(dispatcher.stats.acceptors, 1, 'a worker that could not listen does not count');
    assert.equal(keeperClosed, false);
    await dispatcher.close();
    assert.equal(keeperClosed, true, 'close() closes the kept copy');
    assert.equal(calls.filter((c) => c === 'unshare 1').length, 2, 'close() tells the accepting worker to stop');
    assert.ok(!calls.some((c) => c.startsWith('send')), 'no connection was handed over');
  } finally {
    await dispatcher.close();
  }
});

test('hand-off mode: close() first takes the connections the kernel has queued, for the workers that were in rotation', async () => {
  const dispatcher = new Listener({ holdLimit: 100, holdTimeoutMs: 5000, slowAckMs: 200, acceptWindowMs: 500, reclaimAfterMs: 1000, balance: 'handoff' });
  const handedTo: number[] = [];
  const handles: ConnectionHandle[] = [];
  dispatcher.addWorker(1, { send: (_id, _expiresAt, handle) => {
    handedTo.push(1);
    handles.push(handle);
  } });
  try {
    const { port } = await dispatcher.listen('127.0.0.1', 0, 'service');
    dispatcher.setRotation([1]);
    // Another process connects 5 times while this one's loop is blocked: the kernel completes the
    // handshakes and queues the connections; nothing here has accepted them.
    const client = `const net = require('node:net'); let n = 0; for (let i = 0; i < 5; i++) net.connect(${port}, '127.0.0.1', () => { if (++n === 5) process.exit(0); });`;
    execFileSync(process.execPath, ['-e', client], { timeout: 10_000 });
    assert.equal(dispatcher.stats.accepted, 0, 'nothing accepted while the loop was blocked');
    const closing = dispatcher.close();
    dispatcher.setRotation([]); // the workers leave rotation as they are told to drain
    await closing;
    assert.equal(dispatcher.stats.accepted, 5, 'every queued connection was accepted before the listener closed');
    assert.deepEqual(handedTo, [1, 1, 1, 1, 1], 'and handed to the worker that was in rotation');
  } finally {
    for (const handle of handles) handle.close();
    await dispatcher.close();
  }
});

test('a worker whose channel refuses a hand-off gets no connection until it is removed, even while still in rotation', () => {
  const { dispatcher, sent } = setup();
  // Worker 3's channel has closed (its process is exiting) and refuses synchronously, as a closed
  // child_process channel does; the machine has not seen the exit yet and keeps it in rotation.
  let refusals = 0;
  dispatcher.addWorker(3, { send: (_id, _expiresAt, _handle, onSent) => {
    refusals += 1;
    onSent(new Error("IPC channel closed"));
  } });
  dispatcher.setRotation([3]);
  dispatcher.accept(new FakeHandle('a'));
  assert.equal(refusals, 1, 'tried once, not again and again (that recursion overflowed the stack)');
  assert.equal(dispatcher.stats.held, 1, 'held while no reachable worker is in rotation');
  dispatcher.setRotation([3, 1]);
  assert.deepEqual(sent.map((s) => [s.worker, s.handle.name]), [[1, 'a']], 'the held connection goes to the reachable worker');
  for (const name of ['b', 'c']) dispatcher.accept(new FakeHandle(name));
  assert.deepEqual(sent.map((s) => s.worker), [1, 1, 1]);
  assert.equal(refusals, 1);
  dispatcher.removeWorker(3);
  dispatcher.addWorker(3, { send: (id, expiresAt, handle) => sent.push({ worker: 3, id, expiresAt, handle: handle as FakeHandle }) });
  dispatcher.setRotation([1, 3]);
  for (const name of ['d', 'e']) dispatcher.accept(new FakeHandle(name));
  assert.ok(sent.slice(3).some((s) => s.worker === 3), 'a new worker with the same id is reachable again');
});

test('shared mode: an unchanged rotation tells nobody anything, but a worker that could not listen is asked again with the next one', async () => {
  const listener = new Listener({ holdLimit: 2, holdTimeoutMs: 5000, slowAckMs: 200, acceptWindowMs: 500, reclaimAfterMs: 1000, balance: 'shared' });
  const calls: string[] = [];
  for (const worker of [1, 2]) {
    listener.addWorker(worker, { send: () => calls.push(`send ${worker}`), share: () => calls.push(`share ${worker}`), unshare: () => calls.push(`unshare ${worker}`) });
  }
  try {
    await listener.listen('127.0.0.1', 0, 'service');
    listener.setRotation([1, 2]);
    for (let i = 0; i < 10; i++) listener.setRotation([1, 2]);
    assert.deepEqual(calls, ['share 1', 'share 2'], 'ten heartbeats that change nothing send nothing');
    listener.listening(2, undefined, 'listen failed');
    assert.equal(listener.stats.acceptors, 1);
    listener.setRotation([1, 2]);
    assert.deepEqual(calls.slice(2), ['share 2'], 'the worker that failed is asked again');
    assert.equal(listener.stats.acceptors, 2);
  } finally {
    await listener.close();
  }
});
