// Reads Linux /proc for `warden check`: a process's state, parent and start time, and a parent's
// children. Read-only: signals are sent by run-check.ts. Outside Linux every read answers null/[],
// and callers that cannot do without /proc (the --pid target) say so themselves.
import { readdirSync, readFileSync } from 'node:fs';

import { errnoCode } from '../errors.js';

export interface ProcStat {
  pid: number;
  /** One letter: R running, S sleeping, D disk wait, T stopped, t traced, Z zombie, ... */
  state: string;
  ppid: number;
  /** Clock ticks after boot: with the pid, tells a process apart from a later one reusing its pid. */
  startTime: number;
}

export function hasProcFs(): boolean {
  return process.platform === 'linux' && readStat(process.pid) !== null;
}

/** Parses the text of /proc/<pid>/stat; null when it does not have the expected form. */
export function parseStat(text: string): ProcStat | null {
  // The command name (field 2) sits in parentheses and may itself contain spaces and ')'.
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  // After ") ": field 3 (state) is rest[0], field 4 (ppid) rest[1], field 22 (starttime) rest[19].
  const rest = text.slice(close + 2).split(' ');
  const state = rest[0] ?? '';
  const ppid = Number(rest[1]);
  const startTime = Number(rest[19]);
  if (!Number.isInteger(pid) || state.length !== 1 || !Number.isInteger(ppid) || !Number.isInteger(startTime)) {
    return null;
  }
  return { pid, state, ppid, startTime };
}

/** The process's /proc stat, or null when it does not exist (or there is no /proc). */
export function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    // ENOENT: no such process (or no /proc); ESRCH: it exited while we read.
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ESRCH') return null;
    throw error;
  }
  return parseStat(text);
}

/**
 * Live (not zombie) children of `pid`, oldest first. Uses /proc/<pid>/task/<tid>/children when the
 * kernel has it (CONFIG_PROC_CHILDREN), else scans every /proc/<n>/stat for the parent pid.
 */
export function listChildren(pid: number): ProcStat[] {
  const pids = readChildrenFiles(pid) ?? scanForChildren(pid);
  const children: ProcStat[] = [];
  for (const childPid of pids) {
    const stat = readStat(childPid);
    if (stat !== null && stat.ppid === pid && stat.state !== 'Z') children.push(stat);
  }
  return children.sort((a, b) => a.startTime - b.startTime || a.pid - b.pid);
}

function readChildrenFiles(pid: number): number[] | null {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return [];
    throw error;
  }
  const pids = new Set<number>();
  for (const tid of tids) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    } catch (error) {
      // ENOENT on the first thread: this kernel has no `children` files; a thread may also end while we read.
      if (errnoCode(error) !== 'ENOENT' && errnoCode(error) !== 'ESRCH') throw error;
      if (pids.size === 0 && tid === tids[0]) return null;
      continue;
    }
    for (const word of text.split(' ')) {
      if (word.trim() !== '') pids.add(Number(word));
    }
  }
  return [...pids];
}

function scanForChildren(pid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat !== null && stat.ppid === pid) pids.push(stat.pid);
  }
  return pids;
}
