// One HTTP GET on a fresh connection, bounded by a timeout, that never rejects: the outcome (status,
// timeout, or the connection error's code) is data (`warden check`'s timeline, `warden status`, the
// inspector's /json list). A fresh connection per request (agent: false) lets the server hand it to
// any worker, a frozen one too.

import { createRequire } from 'node:module';
import { errnoCode } from '../errors.js';
import { http } from './node-http.js';

export type GetOutcome =
  | { kind: 'response'; status: number; body: string }
  | { kind: 'timeout' }
  | { kind: 'error'; code: string }
  | { kind: 'aborted' };

export interface GetOptions {
  timeoutMs: number;
  signal: AbortSignal;
  /** Keep at most this many bytes of the body (the rest is read and dropped); 0 keeps none. */
  maxBodyBytes: number;
}

export function httpGet(url: URL, options: GetOptions): Promise<GetOutcome> {
  return new Promise((resolve) => {
    if (options.signal.aborted) {
      resolve({ kind: 'aborted' });
      return;
    }
    let outcome: GetOutcome | undefined;
    // The whole exchange (connect, headers, body) counts against one deadline, like a kubelet probe.
    const timer = setTimeout(() => settle({ kind: 'timeout' }), options.timeoutMs);
    const settle = (result: GetOutcome): void => {
      if (outcome !== undefined) return;
      outcome = result;
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      request.destroy();
      resolve(result);
    };
    const onAbort = (): void => settle({ kind: 'aborted' });

    // https (and with it tls and crypto, ~2 MB of RSS) only for an https URL: the primary asks http only.
    const client = url.protocol === 'https:' ? (createRequire(import.meta.url)('node:https') as typeof http) : http;
    const request = client.get(url, { agent: false, headers: { 'user-agent': 'warden-check' } }, (response) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      response.on('data', (chunk: Buffer) => {
        if (kept >= options.maxBodyBytes) return;
        chunks.push(chunk);
        kept += chunk.length;
      });
      response.on('end', () => {
        const body = Buffer.concat(chunks).subarray(0, options.maxBodyBytes).toString('utf8');
        settle({ kind: 'response', status: response.statusCode ?? 0, body });
      });
      response.on('error', (error) => settle({ kind: 'error', code: errnoCode(error) ?? error.name }));
    });
    request.on('error', (error) => settle({ kind: 'error', code: errnoCode(error) ?? error.name }));
    options.signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function describeOutcome(outcome: GetOutcome): string {
  switch (outcome.kind) {
    case 'response':
      return `HTTP ${outcome.status}`;
    case 'timeout':
      return 'no answer in time';
    case 'error':
      return outcome.code;
    case 'aborted':
      return 'aborted';
    default: {
      const impossible: never = outcome;
      throw new Error(`unknown outcome ${JSON.stringify(impossible)}`);
    }
  }
}
