// --access-log inside a worker: one line per finished request on the worker's stdout, where the
// primary attributes it to the worker's slot and pid like any other output line (as JSON fields
// with --log-format json). The query string is left out unless asked for: it may hold secrets.

import { LOG_EVENTS } from '../log/events.js';
import type { FinishedRequest } from './requests.js';

export type AccessLogLine = (request: FinishedRequest) => void;

export function formatAccessLine(request: FinishedRequest, mode: 'on' | 'query', format: 'text' | 'json', now: Date): string {
  const path = mode === 'query' ? request.url : (request.url.split('?')[0] as string);
  const durationMs = Math.round(request.durationMs * 10) / 10;
  const status = request.status === 0 ? '-' : String(request.status);
  const msg = `${request.method} ${path} ${status} ${durationMs}ms`;
  if (format === 'text') return msg;
  return JSON.stringify({
    level: 30, time: now.toISOString(), event: LOG_EVENTS.httpAccess, method: request.method, path, status: request.status, durationMs, msg,
  });
}

export function accessLogWriter(mode: 'off' | 'on' | 'query', format: 'text' | 'json'): AccessLogLine | undefined {
  if (mode === 'off') return undefined;
  return (request) => {
    process.stdout.write(`${formatAccessLine(request, mode, format, new Date())}\n`);
  };
}
