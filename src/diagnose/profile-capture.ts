// Takes a CPU profile of a worker through its inspector for a bounded time and saves it as a
// .cpuprofile in a directory with a size cap. Acting code, like stack-capture.ts (which explains why
// SIGUSR1 reaches even a busy loop): it never throws for an unresponsive target; each failure is
// returned, named, so the caller can fall back to a stack capture and say why.
// Finding (Node 20.20): code V8 optimised before the inspector opened may count an inlined function's
// time in its caller: test/fixtures/diagnose/spin.mjs's spinForever, entered once and never left,
// shows as the timer callback around it; a function the loop calls again and again shows as itself.

import { mkdirSync, readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';
import { isCpuProfile, profilesToRemove, topFunctions, type CpuProfile, type TopFunction } from './cpu-profile.js';
import { cdpFailureReason, converse, withInspector } from './inspector.js';

export type ProfileCapture =
  | { ok: true; profile: CpuProfile; top: TopFunction[]; tookMs: number }
  | { ok: false; reason: string; tookMs: number };

export interface ProfileOptions {
  /** How long the profiler runs, ms (about 1000 before a kill). */
  durationMs: number;
  /** Budget for opening the inspector and connecting, on top of durationMs. */
  timeoutMs: number;
  /** The host given to --inspect-port; 127.0.0.1 by default, and warden never passes another. */
  host?: string;
  /** Microseconds between samples; V8's default is 1000. */
  samplingIntervalUs?: number;
}

/** Only for a worker started with --inspect-port (see captureStack for why). */
export async function captureProfile(pid: number, inspectPort: number, options: ProfileOptions): Promise<ProfileCapture> {
  const result = await withInspector(pid, inspectPort, {
    host: options.host, timeoutMs: options.timeoutMs, totalMs: options.timeoutMs + options.durationMs,
    notOpenReason: (address) => `inspector did not open on ${address} within ${options.timeoutMs} ms`,
  }, (url, signal) => runProfiler(url, options, signal));
  if (!result.ok) return result;
  return { ok: true, profile: result.value.profile, top: topFunctions(result.value.profile), tookMs: result.tookMs };
}

/** Profiler.enable, setSamplingInterval, start; Profiler.stop after durationMs answers the profile. */
function runProfiler(debuggerUrl: string, options: ProfileOptions, signal: AbortSignal): Promise<{ profile: CpuProfile } | { reason: string }> {
  let step: 'connect' | 'start' | 'profile' | 'stop' = 'connect';
  let stopTimer: NodeJS.Timeout | undefined;
  const outcome = converse<{ profile: CpuProfile } | { reason: string }>(debuggerUrl, signal, {
    onOpen(send) {
      step = 'start';
      send(1, 'Profiler.enable');
      send(2, 'Profiler.setSamplingInterval', { interval: options.samplingIntervalUs ?? 1000 });
      send(3, 'Profiler.start');
      stopTimer = setTimeout(() => {
        step = 'stop';
        send(4, 'Profiler.stop');
      }, options.durationMs);
    },
    onMessage(message) {
      if (message.error !== undefined) return { reason: `inspector refused request ${message.id}: ${message.error.message}` };
      if (message.id === 3) step = 'profile';
      if (message.id !== 4) return undefined;
      const profile = message.result?.profile;
      return isCpuProfile(profile) ? { profile } : { reason: 'Profiler.stop answered without a profile' };
    },
    onFailure(failure) {
      switch (failure.kind) {
        case 'deadline':
          return { reason: step === 'connect' ? 'inspector did not accept the WebSocket connection in time' : `the profiler did not answer in time (${step}): main thread not running JavaScript (a long native call?)` };
        default:
          return { reason: cdpFailureReason(failure, step) };
      }
    },
  });
  return outcome.finally(() => clearTimeout(stopTimer));
}

/**
 * Writes the profile as <dir>/<name>.cpuprofile, then removes the oldest .cpuprofile files until the
 * directory's profiles fit in capBytes (the new one is always kept). Returns the path written.
 */
export function saveProfile(dir: string, name: string, profile: CpuProfile, capBytes: number): { path: string; removed: string[] } {
  mkdirSync(dir, { recursive: true });
  const fileName = `${name}.cpuprofile`;
  const path = join(dir, fileName);
  writeFileSync(path, JSON.stringify(profile), { mode: 0o600 });
  const saved = readdirSync(dir)
    .filter((entry) => entry.endsWith('.cpuprofile'))
    .flatMap((entry) => {
      try {
        const stat = statSync(join(dir, entry));
        return [{ name: entry, sizeBytes: stat.size, mtimeMs: stat.mtimeMs }];
      } catch (error) {
        // ENOENT: removed by another writer between readdir and stat.
        if (errnoCode(error) === 'ENOENT') return [];
        throw error;
      }
    });
  const removed = profilesToRemove(saved, capBytes, fileName);
  for (const entry of removed) {
    try {
      unlinkSync(join(dir, entry));
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error;
    }
  }
  return { path, removed };
}
