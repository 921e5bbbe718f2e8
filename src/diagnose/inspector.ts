// One small helper for talking to a worker's inspector, shared by the stack capture of a stalled
// worker (stack-capture.ts) and `warden check --fault spin` (check/busy-loop.ts): open it with
// SIGUSR1, find its WebSocket URL, and hold one short CDP conversation with a deadline. Acting code;
// it never throws for an unresponsive target: every failure is returned, named.

import { setTimeout as sleep } from 'node:timers/promises';
import type WebSocket from 'ws';
import { httpGet } from '../net/http-get.js';
import { isIPv6 } from 'node:net';
import { errnoCode } from '../errors.js';

// ws is loaded on the first conversation, not at start: the primary imports this module (through
// stack-capture.ts) but only talks to an inspector when a worker stalls, and loading ws's nine files
// at start cost the primary about 40 ms of CPU and 2.5 MB of RSS (bench/profile-startup.js).
let webSocketClass: Promise<typeof WebSocket> | undefined;
function loadWebSocket(): Promise<typeof WebSocket> {
  webSocketClass ??= import('ws').then((module) => module.default);
  return webSocketClass;
}

/** How often /json/list is asked while the inspector is opening (it takes a few ms after SIGUSR1). */
const POLL_INTERVAL_MS = 10;

/** SIGUSR1 asks Node to open the inspector on the port given to --inspect-port. */
export function signalInspector(pid: number): 'sent' | 'gone' | 'not allowed' {
  try {
    process.kill(pid, 'SIGUSR1');
    return 'sent';
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ESRCH') return 'gone';
    if (code === 'EPERM') return 'not allowed';
    throw error;
  }
}

/**
 * SIGUSR1 to a worker started with --inspect-port, and the address its inspector then opens on
 * (127.0.0.1 unless told otherwise), or why it cannot be asked.
 */
export function openInspector(pid: number, inspectPort: number, host = '127.0.0.1'): { address: string } | { reason: string } {
  const signalled = signalInspector(pid);
  if (signalled === 'gone') return { reason: 'process is gone' };
  if (signalled === 'not allowed') return { reason: `not allowed to signal pid ${pid} (EPERM)` };
  return { address: `${isIPv6(host) ? `[${host}]` : host}:${inspectPort}` };
}

/**
 * Open a worker's inspector (openInspector), find its target and run one session on it, all within
 * `totalMs`; the session's result, or the reason it could not be had, with the time it took.
 */
export async function withInspector<T extends object>(
  pid: number,
  inspectPort: number,
  options: { host?: string | undefined; timeoutMs: number; totalMs: number; notOpenReason: (address: string) => string },
  session: (debuggerUrl: string, signal: AbortSignal) => Promise<T | { reason: string }>,
): Promise<{ ok: true; value: T; tookMs: number } | { ok: false; reason: string; tookMs: number }> {
  const startedAt = performance.now();
  const tookMs = (): number => Math.round(performance.now() - startedAt);
  const opened = openInspector(pid, inspectPort, options.host);
  if ('reason' in opened) return { ok: false, reason: opened.reason, tookMs: tookMs() };
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), options.totalMs);
  try {
    const target = await findDebuggerUrl(opened.address, options.timeoutMs, deadline.signal);
    if (target === 'not open') return { ok: false, reason: options.notOpenReason(opened.address), tookMs: tookMs() };
    if ('reason' in target) return { ok: false, reason: target.reason, tookMs: tookMs() };
    const result = await session(target.url, deadline.signal);
    if ('reason' in result) return { ok: false, reason: result.reason, tookMs: tookMs() };
    return { ok: true, value: result, tookMs: tookMs() };
  } finally {
    clearTimeout(timer);
  }
}

/** Polls /json/list until the inspector answers with a target, or the deadline passes ('not open'). */
export async function findDebuggerUrl(address: string, timeoutMs: number, signal: AbortSignal): Promise<{ url: string } | { reason: string } | 'not open'> {
  for (;;) {
    const outcome = await httpGet(new URL(`http://${address}/json/list`), { timeoutMs, signal, maxBodyBytes: 1 << 16 });
    if (outcome.kind === 'aborted' || outcome.kind === 'timeout') return 'not open';
    if (outcome.kind === 'response') return parseTargets(address, outcome.status, outcome.body);
    // ECONNREFUSED: the inspector is not listening yet; every other error means something else is there.
    if (outcome.code !== 'ECONNREFUSED') return { reason: `inspector on ${address} could not be asked for targets (${outcome.code})` };
    try {
      await sleep(POLL_INTERVAL_MS, undefined, { signal });
    } catch (error) {
      if (errnoCode(error) === 'ABORT_ERR') return 'not open';
      throw error;
    }
  }
}

function parseTargets(address: string, status: number, body: string): { url: string } | { reason: string } {
  const notInspector = { reason: `${address} is not a Node inspector (/json/list answered HTTP ${status})` };
  if (status !== 200) return notInspector;
  let targets: unknown;
  try {
    targets = JSON.parse(body);
  } catch (error) {
    if (error instanceof SyntaxError) return notInspector;
    throw error;
  }
  const first: unknown = Array.isArray(targets) ? targets[0] : undefined;
  const url = typeof first === 'object' && first !== null ? (first as { webSocketDebuggerUrl?: unknown }).webSocketDebuggerUrl : undefined;
  return typeof url === 'string' ? { url } : notInspector;
}

export interface CdpMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message?: string };
}

/** Why a conversation ended without an answer: the caller turns it into its own words. */
export type CdpFailure =
  | { kind: 'deadline' }
  | { kind: 'not json' }
  | { kind: 'connection failed'; detail: string }
  | { kind: 'closed' };

/** A failed conversation in words, for every failure but the deadline (which each caller words itself). */
export function cdpFailureReason(failure: Exclude<CdpFailure, { kind: 'deadline' }>, step: string): string {
  switch (failure.kind) {
    case 'not json':
      return 'inspector sent a message that is not JSON';
    case 'connection failed':
      return `inspector connection failed during ${step}: ${failure.detail}`;
    case 'closed':
      return `inspector closed the connection during ${step}`;
  }
}

export interface CdpConversation<T> {
  /** The WebSocket is open: send the requests. */
  onOpen(send: (id: number, method: string, params?: Record<string, unknown>) => void): void;
  /** A reply or an event: return the outcome to end the conversation, undefined to keep listening. */
  onMessage(message: CdpMessage): T | undefined;
  onFailure(failure: CdpFailure): T;
}

/**
 * One conversation, ended by the first outcome, the deadline, an error or the target closing. The
 * socket is then dropped without a closing handshake (and without ws's 30 s close timer); while still
 * connecting, terminate() emits 'error', which is ignored once settled.
 */
export async function converse<T>(debuggerUrl: string, signal: AbortSignal, conversation: CdpConversation<T>): Promise<T> {
  const WebSocketClass = await loadWebSocket();
  return new Promise((resolve) => {
    const socket = new WebSocketClass(debuggerUrl, { perMessageDeflate: false });
    let isSettled = false;
    const settle = (result: T): void => {
      if (isSettled) return;
      isSettled = true;
      signal.removeEventListener('abort', onDeadline);
      socket.terminate();
      resolve(result);
    };
    const onDeadline = (): void => settle(conversation.onFailure({ kind: 'deadline' }));
    if (signal.aborted) onDeadline();
    signal.addEventListener('abort', onDeadline, { once: true });
    socket.on('open', () => conversation.onOpen((id, method, params) => socket.send(JSON.stringify({ id, method, ...(params === undefined ? {} : { params }) }))));
    socket.on('message', (data) => {
      if (isSettled) return;
      let message: CdpMessage;
      try {
        message = JSON.parse(data.toString()) as CdpMessage;
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        settle(conversation.onFailure({ kind: 'not json' }));
        return;
      }
      const outcome = conversation.onMessage(message);
      if (outcome !== undefined) settle(outcome);
    });
    socket.on('error', (error) => settle(conversation.onFailure({ kind: 'connection failed', detail: errnoCode(error) ?? error.message })));
    socket.on('close', () => settle(conversation.onFailure({ kind: 'closed' })));
  });
}
