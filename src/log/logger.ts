// The primary's log: JSON lines through pino (`--log-format json`) or plain text lines for people.
// Every record carries an `event` from events.ts. Each record is written whole, by one write, to a
// LogStream that never blocks the primary: a closed pipe or a full disk drops records and counts
// them (log-stream.ts). Worker output arrives here line by line (line-splitter.ts).

import { createRequire } from 'node:module';
import type { Logger as PinoLogger, pino as pinoFunction } from 'pino';
import { LOG_EVENTS, type LogEvent } from './events.js';
import { LogStream, type LogStreamStats } from './log-stream.js';

export type Level = 'info' | 'warn' | 'error';

/** `--log-format`: plain text lines for people, or one pino JSON object per line. */
export type LogFormat = 'text' | 'json';

/** Who wrote a line of worker output. */
export interface LineSource {
  slot: number;
  pid: number;
  generation?: number;
  /** A piece of a line longer than the line limit; the line goes on in the next record. */
  partial?: boolean;
}

export interface Logger {
  log(level: Level, event: LogEvent, msg: string, fields?: Record<string, unknown>): void;
  /** One line of a worker's stdout/stderr, attributed to its slot and pid. */
  workerLine(slot: number | LineSource, pid: number, stream: 'stdout' | 'stderr', line: string): void;
  /** Dropped output per stream, for /workers and /metrics. */
  streamStats(): { stdout: LogStreamStats; stderr: LogStreamStats };
  /** Wait (bounded) until what was logged is written, before the process exits. */
  flush(timeoutMs: number): Promise<void>;
}

export interface LogSink {
  write(text: string): void;
  readonly stats?: LogStreamStats;
  flush?(timeoutMs: number): Promise<void>;
}

/** The longest line of worker output held in memory; longer lines are passed on in pieces. */
export const MAX_LINE_BYTES = 1024 * 1024;
/** Output queued for a slow reader at most, per stream, before records are dropped. */
export const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

const LEVELS: Record<Level, number> = { info: 30, warn: 40, error: 50 };
const NO_DROPS: LogStreamStats = { droppedLines: 0, droppedBytes: 0, lastError: null, failing: false };

function fdStream(fd: number, name: 'stdout' | 'stderr', format: LogFormat): LogStream {
  return new LogStream(fd, {
    maxQueuedBytes: MAX_QUEUED_BYTES,
    retryAfterMs: 1000,
    describeDrop: (lines, bytes, error) => {
      const msg = `dropped ${lines} log line${lines === 1 ? '' : 's'} (${bytes} bytes) of ${name}${error === null ? ' (the reader was too slow)' : ` while writes failed (${error})`}`;
      if (format === 'text') return `[warden] warn: ${msg}\n`;
      return `${JSON.stringify({ level: LEVELS.warn, time: new Date().toISOString(), pid: process.pid, event: LOG_EVENTS.logDropped, stream: name, lines, bytes, error, msg })}\n`;
    },
  });
}

export function createLogger(format: LogFormat, out: LogSink = fdStream(1, 'stdout', format), err: LogSink = fdStream(2, 'stderr', format)): Logger {
  const common = {
    streamStats: () => ({ stdout: out.stats ?? NO_DROPS, stderr: err.stats ?? NO_DROPS }),
    flush: async (timeoutMs: number) => {
      await Promise.all([out.flush?.(timeoutMs), err.flush?.(timeoutMs)]);
    },
  };
  if (format === 'json') return { ...common, ...jsonLogger(out) };
  return {
    ...common,
    log(level, _event, msg, fields) {
      const sink = level === 'info' ? out : err;
      const text = level === 'info' ? `[warden] ${msg}` : `[warden] ${level}: ${msg}`;
      // Evidence (a stack, a list of requests) is printed as a block under the line, not folded into it.
      const block = typeof fields?.block === 'string' ? fields.block : (fields?.error as { stack?: string } | undefined)?.stack;
      sink.write(block !== undefined && !msg.includes(block) ? `${text}\n${indent(block)}\n` : `${text}\n`);
    },
    workerLine(slot, pid, stream, line) {
      const source = lineSource(slot, pid);
      const generation = source.generation !== undefined && source.generation > 1 ? `g${source.generation}` : '';
      (stream === 'stdout' ? out : err).write(`[w${source.slot}${generation} ${source.pid}${source.partial ? ' partial' : ''}] ${line}\n`);
    },
  };
}

function lineSource(slot: number | LineSource, pid: number): LineSource {
  return typeof slot === 'number' ? { slot, pid } : slot;
}

/**
 * JSON records have one key per name. `pid` is the process a record is about: the worker's for worker
 * events and worker output, the primary's otherwise.
 */
function jsonLogger(out: LogSink): Pick<Logger, 'log' | 'workerLine'> {
  // Loaded only for --log-format json: the text logger does without it, and pino costs ~9 MB of RSS.
  const pino = createRequire(import.meta.url)('pino') as typeof pinoFunction;
  const logger: PinoLogger = pino({ base: null, timestamp: pino.stdTimeFunctions.isoTime }, out);
  return {
    log(level, event, msg, fields = {}) {
      logger[level]({ event, pid: process.pid, ...fields }, msg);
    },
    workerLine(slot, pid, stream, line) {
      out.write(`${workerRecord(lineSource(slot, pid), stream, line)}\n`);
    },
  };
}

/**
 * One line of worker output as a JSON record. A line the app wrote as a JSON object (pino, winston,
 * bunyan) keeps its own fields at the top level, never re-encoded into a string. The app's fields
 * win: warden adds `slot`, `pid`, `stream`, `generation` and `event` only where the app has no field
 * of that name; where the app's field holds another value, warden's goes under `warden` (e.g.
 * `warden.slot`), except `event`, which is only added when missing.
 */
export function workerRecord(source: LineSource, stream: 'stdout' | 'stderr', line: string): string {
  const ours: Record<string, unknown> = {
    event: LOG_EVENTS.workerOutput, slot: source.slot, ...(source.generation === undefined ? {} : { generation: source.generation }), pid: source.pid, stream,
  };
  const app = source.partial ? undefined : parseObject(line);
  if (app === undefined) {
    return JSON.stringify({ level: LEVELS.info, time: new Date().toISOString(), ...ours, ...(source.partial ? { partial: true } : {}), msg: line });
  }
  const clashes: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(ours)) {
    if (!Object.hasOwn(app, key)) app[key] = value;
    else if (app[key] !== value && key !== 'event') clashes[key] = value;
  }
  if (Object.keys(clashes).length > 0 && !Object.hasOwn(app, 'warden')) app.warden = clashes;
  return JSON.stringify(app);
}

function parseObject(line: string): Record<string, unknown> | undefined {
  const text = line.trim();
  if (!text.startsWith('{') || !text.endsWith('}')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch (error) {
    if (error instanceof SyntaxError) return undefined; // text that only looks like JSON
    throw error;
  }
}

function indent(text: string): string {
  return text.split('\n').map((line) => `    ${line}`).join('\n');
}
