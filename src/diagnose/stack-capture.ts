// Reads the JavaScript stack of a stalled worker's main thread, for the log line before it is killed.
// Acting code: sends SIGUSR1, speaks the inspector protocol (CDP) over a WebSocket, and never throws
// for an unresponsive target: every step that does not answer in time becomes { ok: false, reason }.
// The worker must run with --inspect-port=<host>:<port>; that flag alone opens no port (see below).
//
// Why it works while the main thread spins: Node takes SIGUSR1 on a watchdog thread and asks V8 for
// an interrupt; the main thread starts the inspector's I/O thread in that interrupt, and later runs
// Debugger.enable/pause in interrupts too. Busy JavaScript checks interrupts on every loop back edge.
// (A worker_threads session from connectToMainThread() is no use: Debugger.enable is never answered.)
//
// Findings on Node 20.20 and 24.21, 2 cores (test/diagnose/stack-capture.test.ts checks each one):
// - Busy loop: a stack in 90-160 ms: ~40-100 ms until the inspector listens, ~60 ms for connect,
//   Debugger.enable (which replays a scriptParsed per script) and the pause.
// - Catastrophic regex (/(a+)+$/): a stack; the top frame is the JS function calling .test() (the
//   regex engine checks interrupts while it backtracks; it has no frame of its own).
// - Atomics.wait: a stack, on both versions. V8 wakes a thread waiting in Atomics.wait to run
//   interrupts, then waits again, so the inspector opens and pauses inside the waiting function.
// - One long JSON.parse, execSync or blocking read: nothing until the call returns. These native
//   calls take no interrupts, so the inspector does not even open ("inspector did not open"); when
//   it was already open, Debugger.enable is not answered ("did not pause").
// - SIGSTOP: SIGUSR1 stays pending until SIGCONT, so "inspector did not open" (the state is named).
// - Cost while healthy: none measured. --inspect-port only records the port: nothing listens, thread
//   count and RSS are the same as without it (the SIGUSR1 watchdog thread exists either way).
//   After a capture the inspector stays open on that port until the process exits, and the worker
//   prints "Debugger listening on ..." to its stderr: meant for right before SIGKILL.
import net from 'node:net';
import { readStat } from '../os/proc.js';
import { cdpFailureReason, converse, withInspector, type CdpMessage } from './inspector.js';
import { scriptPath } from './script-path.js';

/** 1-based line and column, like an Error stack; url is a file path when the script is a file. */
export interface StackFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

export type StackCapture =
  | { ok: true; frames: StackFrame[]; tookMs: number }
  | { ok: false; reason: string; tookMs: number };

export interface CaptureOptions {
  /** Budget for all steps together: signal, inspector opening, connect, enable, pause. */
  timeoutMs: number;
  /** The host given to --inspect-port; 127.0.0.1 by default. */
  host?: string;
}

interface CdpCallFrame {
  functionName: string;
  url?: string;
  location: { scriptId: string; lineNumber: number; columnNumber?: number };
}

type SessionResult = { frames: StackFrame[] } | { reason: string };

/**
 * Only for a worker started with --inspect-port: without it SIGUSR1 opens the inspector on the default
 * 9229, and an app's own process.on('SIGUSR1') listener keeps the inspector from opening at all.
 */
export async function captureStack(pid: number, inspectPort: number, options: CaptureOptions): Promise<StackCapture> {
  const result = await withInspector(pid, inspectPort, {
    host: options.host, timeoutMs: options.timeoutMs, totalMs: options.timeoutMs,
    notOpenReason: (address) => notOpenReason(pid, address, options.timeoutMs),
  }, readPausedStack);
  if (!result.ok) return result;
  return { ok: true, frames: result.value.frames, tookMs: result.tookMs };
}

function notOpenReason(pid: number, address: string, timeoutMs: number): string {
  const state = readStat(pid)?.state;
  const why =
    state === 'T' || state === 't'
      ? 'the process is stopped (SIGSTOP or a debugger), and SIGUSR1 waits for SIGCONT'
      : 'its main thread took no interrupt (in a long native call such as JSON.parse or execSync), or it was started without --inspect-port';
  return `inspector did not open on ${address} within ${timeoutMs} ms: ${why}`;
}

/**
 * Connects, sends Debugger.enable and Debugger.pause, and reads the call frames of Debugger.paused.
 * Closing the socket ends the session, which resumes the target (it is about to be killed anyway).
 */
function readPausedStack(debuggerUrl: string, signal: AbortSignal): Promise<SessionResult> {
  // Which request is outstanding: named in the reason when the deadline passes.
  let step: 'connect' | 'enable' | 'pause' = 'connect';
  const scriptUrls = new Map<string, string>();
  return converse<SessionResult>(debuggerUrl, signal, {
    onOpen(send) {
      step = 'enable';
      send(1, 'Debugger.enable');
      send(2, 'Debugger.pause');
    },
    onMessage(message: CdpMessage) {
      const params = message.params as { scriptId?: string; url?: string; callFrames?: CdpCallFrame[] } | undefined;
      if (message.error !== undefined) return { reason: `inspector refused request ${message.id}: ${message.error.message}` };
      if (message.id === 1) step = 'pause';
      else if (message.method === 'Debugger.scriptParsed' && params?.scriptId !== undefined) scriptUrls.set(params.scriptId, params.url ?? '');
      else if (message.method === 'Debugger.paused') return { frames: (params?.callFrames ?? []).map((frame) => toStackFrame(frame, scriptUrls)) };
      return undefined;
    },
    onFailure(failure) {
      switch (failure.kind) {
        case 'deadline':
          return {
            reason: {
              connect: 'inspector did not accept the WebSocket connection in time',
              enable: 'did not pause: Debugger.enable not answered (main thread not running JavaScript: a long native call?)',
              pause: 'did not pause: main thread not running JavaScript (a long native call?)',
            }[step],
          };
        default:
          return { reason: cdpFailureReason(failure, step) };
      }
    },
  });
}

function toStackFrame(frame: CdpCallFrame, scriptUrls: Map<string, string>): StackFrame {
  // callFrame.url is deprecated in CDP but still sent; scriptParsed (sent during enable) is the fallback.
  const url = frame.url || scriptUrls.get(frame.location.scriptId) || '';
  return {
    functionName: frame.functionName,
    url: scriptPath(url),
    lineNumber: frame.location.lineNumber + 1,
    columnNumber: (frame.location.columnNumber ?? 0) + 1,
  };
}

/** Frames as the lines of an Error stack: "    at name (/path/file.mjs:12:5)". */
export function formatStack(frames: StackFrame[]): string {
  return frames
    .map((frame) => {
      const location = `${frame.url || '<anonymous>'}:${frame.lineNumber}:${frame.columnNumber}`;
      return frame.functionName === '' ? `    at ${location}` : `    at ${frame.functionName} (${location})`;
    })
    .join('\n');
}

/**
 * A port that was free a moment ago on `host`, for --inspect-port. Another process may take it before
 * the worker's inspector opens; captureStack then reports that the port is not a Node inspector.
 */
export function freeInspectPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
