import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, workerRecord } from '../../src/log/logger.js';

function hasDuplicateKey(line: string): boolean {
  // Top-level keys only: good enough for the flat records warden writes.
  const keys = [...line.matchAll(/[{,]"([^"]+)":/g)].map((match) => match[1]);
  return new Set(keys).size !== keys.length;
}

test('a worker event in JSON has one pid key: the worker\'s', () => {
  const lines: string[] = [];
  const log = createLogger('json', { write: (text) => lines.push(text) }, { write: (text) => lines.push(text) });
  log.log('info', 'worker.ready', 'worker 1 ready', { slot: 1, generation: 1, pid: 4242 });
  log.log('info', 'warden.started', 'started');
  const [worker, primary] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(worker?.pid, 4242);
  assert.equal(primary?.pid, process.pid);
  for (const line of lines) assert.ok(!hasDuplicateKey(line), line);
});

test('an app JSON line keeps its fields at the top level; warden adds slot, pid, stream without overwriting', () => {
  const app = JSON.stringify({ level: 30, time: 1, pid: 7, msg: 'hi', slot: 'mine', req: { id: 3 } });
  const record = JSON.parse(workerRecord({ slot: 2, pid: 7, generation: 1 }, 'stdout', app)) as Record<string, unknown>;
  assert.equal(record.msg, 'hi');
  assert.deepEqual(record.req, { id: 3 });
  assert.equal(record.slot, 'mine', "the app's field wins");
  assert.deepEqual(record.warden, { slot: 2 }, "warden's clashing value goes under warden");
  assert.equal(record.pid, 7);
  assert.equal(record.stream, 'stdout');
  assert.equal(record.event, 'worker.output');
});

test('a text line or a partial piece stays a string in msg', () => {
  const text = JSON.parse(workerRecord({ slot: 1, pid: 5 }, 'stderr', 'plain {')) as Record<string, unknown>;
  assert.equal(text.msg, 'plain {');
  const piece = JSON.parse(workerRecord({ slot: 1, pid: 5, partial: true }, 'stdout', '{"a":1}')) as Record<string, unknown>;
  assert.equal(piece.msg, '{"a":1}');
  assert.equal(piece.partial, true);
});
