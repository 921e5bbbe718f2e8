// pino setup for the primary: JSON lines (`--log-format json`) or plain text lines for people.
// Every record carries an `event` from events.ts. Writes are synchronous and one line per write, so
// lines from the primary and from workers never tear or interleave.

import { createRequire } from 'node:module';
import type { Logger as PinoLogger, pino as pinoFunction } from 'pino';
import type { LogFormat } from '../config/options.js';
import type { LogEvent } from './events.js';

export type Level = 'info' | 'warn' | 'error';

export interface Logger {
  log(level: Level, event: LogEvent, msg: string, fields?: Record<string, unknown>): void;
  /** One line of a worker's stdout/stderr, attributed to its slot and pid. */
  workerLine(slot: number, pid: number, stream: 'stdout' | 'stderr', line: string): void;
}

export interface LogSink {
  write(text: string): void;
}

const stdoutSink: LogSink = { write: (text) => process.stdout.write(text) };
const stderrSink: LogSink = { write: (text) => process.stderr.write(text) };

export function createLogger(format: LogFormat, out: LogSink = stdoutSink, err: LogSink = stderrSink): Logger {
  if (format === 'json') return jsonLogger(out);
  return {
    log(level, _event, msg, fields) {
      const sink = level === 'info' ? out : err;
      const text = level === 'info' ? `[warden] ${msg}` : `[warden] ${level}: ${msg}`;
      // Evidence (a stack, a list of requests) is printed as a block under the line, not folded into it.
      const block = typeof fields?.block === 'string' ? fields.block : (fields?.error as { stack?: string } | undefined)?.stack;
      sink.write(block !== undefined && !msg.includes(block) ? `${text}\n${indent(block)}\n` : `${text}\n`);
    },
    workerLine(slot, pid, stream, line) {
      (stream === 'stdout' ? out : err).write(`[w${slot} ${pid}] ${line}\n`);
    },
  };
}

function jsonLogger(out: LogSink): Logger {
  // Loaded only for --log-format json: the text logger does without it, and pino costs ~9 MB of RSS.
  const pino = createRequire(import.meta.url)('pino') as typeof pinoFunction;
  const logger: PinoLogger = pino({ base: { pid: process.pid, role: 'primary' }, timestamp: pino.stdTimeFunctions.isoTime }, out);
  return {
    log(level, event, msg, fields = {}) {
      logger[level]({ event, ...fields }, msg);
    },
    workerLine(slot, pid, stream, line) {
      logger.info({ event: 'worker.output', slot, pid, stream }, line);
    },
  };
}

function indent(text: string): string {
  return text.split('\n').map((line) => `    ${line}`).join('\n');
}
