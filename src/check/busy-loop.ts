// The `spin` fault of `warden check`: makes one warden worker's main thread busy-loop, as a real bug
// would, through the worker's inspector (SIGUSR1 opens it on the port warden gave the worker, then
// one Runtime.evaluate over CDP). Acting code; never throws for an unresponsive worker: every step
// that fails or does not answer in time becomes { ok: false, reason, isSent }.
//
// The expression only schedules the loop (setImmediate) and returns. Evaluated directly, the loop
// would run inside the inspector's message dispatch, which Node does not re-enter, so warden's own
// stack capture (Debugger.enable/pause) would never be answered and its incident would say "no stack"
// (measured on Node 20.20 and 24.21). Run from the event loop, it is a busy loop like any other: the
// stack reads "at wardenCheckBusyLoop (warden-check-busy-loop.js:1:…) / at processImmediate".
// Closing our session does not stop it: nothing is left to resume, only a process to kill.
// ws is loaded on first use: a healthy primary never needs it (it costs ~8 MB of RSS).
import type WebSocketClass from 'ws';

import { findDebuggerUrl } from '../diagnose/stack-capture.js';
import { errnoCode } from '../errors.js';

export const BUSY_LOOP_FUNCTION = 'wardenCheckBusyLoop';
const SOURCE_URL = 'warden-check-busy-loop.js';
const SCHEDULED = 'scheduled';
// sourceURL names the script in the captured stack, so a reader sees the loop was injected by the check.
const EXPRESSION = `setImmediate(function ${BUSY_LOOP_FUNCTION}() { for (;;) {} }), '${SCHEDULED}'\n//# sourceURL=${SOURCE_URL}`;

export type BusyLoopStart =
  | { ok: true }
  /** isSent: the expression reached the inspector, so the loop may be running even without an answer. */
  | { ok: false; reason: string; isSent: boolean };

export async function startBusyLoop(
  pid: number,
  inspectPort: number,
  options: { timeoutMs: number; signal: AbortSignal; host?: string },
): Promise<BusyLoopStart> {
  const address = `${options.host ?? '127.0.0.1'}:${inspectPort}`;
  try {
    process.kill(pid, 'SIGUSR1');
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ESRCH') return { ok: false, reason: `worker ${pid} exited before its inspector could be opened`, isSent: false };
    if (code === 'EPERM') return { ok: false, reason: `not allowed to send SIGUSR1 to worker ${pid}`, isSent: false };
    throw error;
  }
  const deadline = AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]);
  const target = await findDebuggerUrl(address, options.timeoutMs, deadline);
  if (target === 'not open') {
    const reason = `the inspector of the worker did not open on ${address} within ${options.timeoutMs} ms (its main thread may already be blocked, or the app handles SIGUSR1 itself)`;
    return { ok: false, reason, isSent: false };
  }
  if ('reason' in target) return { ok: false, reason: target.reason, isSent: false };
  return evaluate(target.url, deadline, options.timeoutMs);
}

interface EvaluateReply {
  id?: number;
  result?: { result?: { value?: unknown }; exceptionDetails?: { text?: string; exception?: { description?: string } } };
  error?: { message?: string };
}

/** Sends the expression, waits for its reply (the loop starts on the next turn of the event loop), disconnects. */
async function evaluate(debuggerUrl: string, signal: AbortSignal, timeoutMs: number): Promise<BusyLoopStart> {
  const WebSocket: typeof WebSocketClass = (await import('ws')).default;
  return new Promise((resolve) => {
    let isSent = false;
    let isSettled = false;
    const socket = new WebSocket(debuggerUrl, { perMessageDeflate: false });
    const settle = (result: BusyLoopStart): void => {
      if (isSettled) return;
      isSettled = true;
      signal.removeEventListener('abort', onDeadline);
      // No closing handshake to wait for: the session has nothing more to do. While still
      // connecting, terminate() emits 'error', which settle() then ignores.
      socket.terminate();
      resolve(result);
    };
    const onDeadline = (): void =>
      settle({
        ok: false,
        reason: isSent ? `the inspector did not answer Runtime.evaluate within ${timeoutMs} ms` : 'the inspector did not accept the WebSocket connection in time',
        isSent,
      });
    if (signal.aborted) onDeadline();
    signal.addEventListener('abort', onDeadline, { once: true });

    socket.on('open', () => {
      socket.send(JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression: EXPRESSION, returnByValue: true } }));
      isSent = true;
    });
    socket.on('message', (data) => {
      let reply: EvaluateReply;
      try {
        reply = JSON.parse(data.toString()) as EvaluateReply;
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        settle({ ok: false, reason: 'the inspector sent a message that is not JSON', isSent });
        return;
      }
      if (reply.id !== 1) return; // an event, not our answer
      const thrown = reply.result?.exceptionDetails;
      if (reply.error !== undefined || thrown !== undefined) {
        // The expression threw, so no loop was scheduled.
        const why = reply.error?.message ?? thrown?.exception?.description ?? thrown?.text ?? 'unknown error';
        settle({ ok: false, reason: `the inspector refused Runtime.evaluate: ${why}`, isSent: false });
      } else if (reply.result?.result?.value !== SCHEDULED) {
        settle({ ok: false, reason: `Runtime.evaluate answered ${JSON.stringify(reply.result?.result?.value)}, not "${SCHEDULED}"`, isSent });
      } else {
        settle({ ok: true });
      }
    });
    socket.on('error', (error) => settle({ ok: false, reason: `inspector connection failed: ${errnoCode(error) ?? error.message}`, isSent }));
    socket.on('close', () => settle({ ok: false, reason: 'the inspector closed the connection before answering', isSent }));
  });
}
