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
import { converse, findDebuggerUrl, signalInspector } from '../diagnose/inspector.js';

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
  const signalled = signalInspector(pid);
  if (signalled === 'gone') return { ok: false, reason: `worker ${pid} exited before its inspector could be opened`, isSent: false };
  if (signalled === 'not allowed') return { ok: false, reason: `not allowed to send SIGUSR1 to worker ${pid}`, isSent: false };
  const deadline = AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]);
  const target = await findDebuggerUrl(address, options.timeoutMs, deadline);
  if (target === 'not open') {
    const reason = `the inspector of the worker did not open on ${address} within ${options.timeoutMs} ms (its main thread may already be blocked, or the app handles SIGUSR1 itself)`;
    return { ok: false, reason, isSent: false };
  }
  if ('reason' in target) return { ok: false, reason: target.reason, isSent: false };
  return evaluate(target.url, deadline, options.timeoutMs);
}

interface EvaluateResult {
  result?: { value?: unknown };
  exceptionDetails?: { text?: string; exception?: { description?: string } };
}

/** Sends the expression, waits for its reply (the loop starts on the next turn of the event loop), disconnects. */
function evaluate(debuggerUrl: string, signal: AbortSignal, timeoutMs: number): Promise<BusyLoopStart> {
  let isSent = false;
  return converse<BusyLoopStart>(debuggerUrl, signal, {
    onOpen(send) {
      send(1, 'Runtime.evaluate', { expression: EXPRESSION, returnByValue: true });
      isSent = true;
    },
    onMessage(reply) {
      if (reply.id !== 1) return undefined; // an event, not our answer
      const result = reply.result as EvaluateResult | undefined;
      const thrown = result?.exceptionDetails;
      if (reply.error !== undefined || thrown !== undefined) {
        // The expression threw, so no loop was scheduled.
        const why = reply.error?.message ?? thrown?.exception?.description ?? thrown?.text ?? 'unknown error';
        return { ok: false, reason: `the inspector refused Runtime.evaluate: ${why}`, isSent: false };
      }
      if (result?.result?.value !== SCHEDULED) return { ok: false, reason: `Runtime.evaluate answered ${JSON.stringify(result?.result?.value)}, not "${SCHEDULED}"`, isSent };
      return { ok: true };
    },
    onFailure(failure) {
      switch (failure.kind) {
        case 'deadline':
          return { ok: false, reason: isSent ? `the inspector did not answer Runtime.evaluate within ${timeoutMs} ms` : 'the inspector did not accept the WebSocket connection in time', isSent };
        case 'not json':
          return { ok: false, reason: 'the inspector sent a message that is not JSON', isSent };
        case 'connection failed':
          return { ok: false, reason: `inspector connection failed: ${failure.detail}`, isSent };
        case 'closed':
          return { ok: false, reason: 'the inspector closed the connection before answering', isSent };
      }
    },
  });
}
