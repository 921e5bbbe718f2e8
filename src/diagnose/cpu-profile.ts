// What a CPU profile says, read without I/O: the V8 profile format (.cpuprofile, as Chrome DevTools
// and speedscope open it), the functions that took the most self time with their file:line, and which
// saved profiles to remove so the directory stays under its size cap. Pure: no I/O, no clock.

import type { TopFunction } from '../protocol/admin.js';
import { scriptPath } from './script-path.js';

export type { TopFunction };

/** One node of the call tree (CDP Profiler.ProfileNode); lineNumber and columnNumber are 0-based. */
export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; scriptId: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

/** CDP Profiler.Profile: times in microseconds; samples[i] is a node id, timeDeltas[i] the gap before it. */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}


/** Not work: the tree's root and the time the loop waited. */
const NOT_WORK = new Set(['(root)', '(idle)']);

export function isCpuProfile(value: unknown): value is CpuProfile {
  if (typeof value !== 'object' || value === null) return false;
  const profile = value as Partial<CpuProfile>;
  return Array.isArray(profile.nodes) && typeof profile.startTime === 'number' && typeof profile.endTime === 'number';
}

/**
 * Self time per function (name + script + line, so two closures of one function add up), largest
 * first. A sample's duration is the gap to the next sample (the last one gets the mean gap), the way
 * DevTools counts it; a profile without samples falls back to hitCount times the mean interval.
 */
export function topFunctions(profile: CpuProfile, limit = 10): TopFunction[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const totalUs = Math.max(0, profile.endTime - profile.startTime);
  if (samples.length > 0) {
    const meanUs = samples.length > 1 ? deltas.slice(1).reduce((sum, delta) => sum + Math.max(0, delta), 0) / (samples.length - 1) : totalUs;
    samples.forEach((id, index) => {
      const next = deltas[index + 1];
      const durationUs = next === undefined ? meanUs : Math.max(0, next);
      selfUs.set(id, (selfUs.get(id) ?? 0) + durationUs);
    });
  } else {
    const hits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
    const perHitUs = hits > 0 ? totalUs / hits : 0;
    for (const node of profile.nodes) if ((node.hitCount ?? 0) > 0) selfUs.set(node.id, (node.hitCount ?? 0) * perHitUs);
  }

  const sampledUs = [...selfUs.values()].reduce((sum, us) => sum + us, 0);
  const byFunction = new Map<string, { functionName: string; url: string; lineNumber: number; us: number }>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined || NOT_WORK.has(frame.functionName)) continue;
    const url = scriptPath(frame.url);
    const lineNumber = url === '' && frame.lineNumber < 0 ? 0 : frame.lineNumber + 1;
    const functionName = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    const key = `${functionName}\u0000${url}\u0000${lineNumber}`;
    const entry = byFunction.get(key) ?? { functionName, url, lineNumber, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  return [...byFunction.values()]
    .sort((a, b) => b.us - a.us || a.functionName.localeCompare(b.functionName))
    .slice(0, limit)
    .map((entry) => ({
      functionName: entry.functionName,
      url: entry.url,
      lineNumber: entry.lineNumber,
      selfMs: Math.round(entry.us / 100) / 10,
      selfPercent: sampledUs > 0 ? Math.round((entry.us / sampledUs) * 1000) / 10 : 0,
    }));
}

/** One line per function: "  62.5 %  412.0 ms  spin (/srv/app.js:12)". */
export function formatTopFunctions(functions: readonly TopFunction[]): string {
  return functions
    .map((entry) => {
      const where = entry.url === '' ? '' : ` (${entry.url}:${entry.lineNumber})`;
      return `${entry.selfPercent.toFixed(1).padStart(5)} %  ${entry.selfMs.toFixed(1).padStart(8)} ms  ${entry.functionName}${where}`;
    })
    .join('\n');
}

export interface SavedProfile {
  name: string;
  sizeBytes: number;
  mtimeMs: number;
}

/**
 * The files to delete, oldest first, so the ones left (the newest kept first) fit in capBytes. The
 * file just written is never removed, even alone over the cap: the profile that was asked for is kept.
 */
export function profilesToRemove(files: readonly SavedProfile[], capBytes: number, justWritten: string): string[] {
  const newestFirst = [...files].sort((a, b) => (a.name === justWritten ? -1 : b.name === justWritten ? 1 : b.mtimeMs - a.mtimeMs || b.name.localeCompare(a.name)));
  const remove: string[] = [];
  let keptBytes = 0;
  // Once one does not fit, every older one goes too: age decides, not size.
  let isFull = false;
  for (const file of newestFirst) {
    isFull ||= file.name !== justWritten && keptBytes + file.sizeBytes > capBytes;
    if (isFull) remove.push(file.name);
    else keptBytes += file.sizeBytes;
  }
  return remove.reverse();
}

