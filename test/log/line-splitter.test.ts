import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cutAtCharBoundary, LineSplitter, type SplitLine } from '../../src/log/line-splitter.js';

function split(max: number, chunks: (string | Buffer)[], end = true): SplitLine[] {
  const lines: SplitLine[] = [];
  const splitter = new LineSplitter(max, (line) => lines.push(line));
  for (const chunk of chunks) splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  if (end) splitter.end();
  return lines;
}

test('lines that arrive in pieces come out whole, CRLF trimmed', () => {
  assert.deepEqual(split(100, ['ab', 'c\nde', 'f\r\n', '\n']).map((l) => l.text), ['abc', 'def', '']);
});

test('a last line without a newline (a crash mid-line) is kept at the end of the stream', () => {
  assert.deepEqual(split(100, ['one\ntw', 'o']), [{ text: 'one', partial: false }, { text: 'two', partial: false }]);
  assert.deepEqual(split(100, ['one\ntw'], false).map((l) => l.text), ['one'], 'held until the stream ends');
});

test('a line over the limit is passed on in pieces of at most the limit, the last not partial', () => {
  const lines = split(10, ['x'.repeat(25), '\nok\n']);
  assert.deepEqual(lines, [
    { text: 'x'.repeat(10), partial: true }, { text: 'x'.repeat(10), partial: true }, { text: 'x'.repeat(5), partial: false }, { text: 'ok', partial: false },
  ]);
});

test('pieces never cut a UTF-8 character in two', () => {
  const text = 'é'.repeat(20); // 2 bytes each
  const lines = split(7, [Buffer.from(text)]);
  assert.equal(lines.map((l) => l.text).join(''), text);
  for (const line of lines) assert.ok(Buffer.byteLength(line.text) <= 7 && !line.text.includes('\ufffd'));
  assert.equal(cutAtCharBoundary(Buffer.from('aé'), 2), 1);
});
