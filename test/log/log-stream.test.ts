import assert from 'node:assert/strict';
import type { write } from 'node:fs';
import { test } from 'node:test';
import { LogStream } from '../../src/log/log-stream.js';
import { waitFor } from '../integration/harness.js';

type Callback = (error: NodeJS.ErrnoException | null, written: number) => void;

/** A descriptor that fails with `failing` while set, and records what it accepted. */
function fakeFd() {
  const fd = { written: '', failing: undefined as string | undefined, calls: 0 };
  const writeFn = ((_fd: number, buffer: Buffer, offset: number, length: number, _position: null, callback: Callback) => {
    fd.calls += 1;
    setImmediate(() => {
      if (fd.failing !== undefined) {
        callback(Object.assign(new Error(fd.failing), { code: fd.failing }), 0);
        return;
      }
      // Accept at most 7 bytes per call: partial writes must be finished in order.
      const n = Math.min(length, 7);
      fd.written += buffer.subarray(offset, offset + n).toString();
      callback(null, n);
    });
  }) as unknown as typeof write;
  return { fd, writeFn };
}

const describeDrop = (lines: number, bytes: number, error: string | null) => `[dropped ${lines} ${bytes} ${error}]\n`;

test('records are written whole and in order, through partial writes', async () => {
  const { fd, writeFn } = fakeFd();
  const stream = new LogStream(1, { maxQueuedBytes: 1000, retryAfterMs: 10, describeDrop, writeFn });
  for (let i = 0; i < 20; i++) stream.write(`line ${i}\n`);
  await stream.flush(2000);
  assert.equal(fd.written, Array.from({ length: 20 }, (_, i) => `line ${i}\n`).join(''));
  assert.equal(stream.stats.droppedLines, 0);
});

test('on EPIPE records are dropped and counted, the primary never throws, and the gap is reported once writes work', async () => {
  const { fd, writeFn } = fakeFd();
  const stream = new LogStream(1, { maxQueuedBytes: 1000, retryAfterMs: 20, describeDrop, writeFn });
  fd.failing = 'EPIPE';
  stream.write('lost 1\n');
  await waitFor('the failure', () => stream.stats.failing, 2000, 5);
  stream.write('lost 2\n');
  assert.equal(stream.stats.lastError, 'EPIPE');
  assert.equal(stream.stats.droppedLines, 2);
  const callsWhileFailing = fd.calls;
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok(fd.calls - callsWhileFailing <= 6, `retries are paced, not a spin (${fd.calls - callsWhileFailing} in 100 ms)`);
  fd.failing = undefined;
  await waitFor('recovery', () => !stream.stats.failing, 2000, 5);
  stream.write('after\n');
  await stream.flush(2000);
  assert.equal(fd.written, '[dropped 2 14 EPIPE]\nafter\n');
});

test('a reader too slow for the queue bound loses records, counted, not memory', async () => {
  const { fd, writeFn } = fakeFd();
  const stream = new LogStream(1, { maxQueuedBytes: 20, retryAfterMs: 10, describeDrop, writeFn });
  for (let i = 0; i < 10; i++) stream.write('0123456789\n');
  assert.ok(stream.stats.droppedLines >= 7, `dropped ${stream.stats.droppedLines}`);
  await stream.flush(2000);
  stream.write('next\n');
  await stream.flush(2000);
  const dropped = stream.stats.droppedLines;
  assert.equal(fd.written.split(`[dropped ${dropped} ${dropped * 11} null]\n`).length, 2, `the gap is reported once: ${fd.written}`);
  assert.ok(fd.written.endsWith('next\n'));
});
