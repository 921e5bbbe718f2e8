// Test helper: starts test/fixtures/cluster-primary.cjs with its processes owned by the test
// (test/integration/harness.ts ownProcesses), so the primary and every worker it ever forked,
// stopped or not, is killed by pid even when a test fails.
// Also waits by polling to a deadline, never by a fixed sleep.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

import { listChildren } from '../../src/os/proc.js';
import { ownProcesses } from '../integration/harness.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/cluster-primary.cjs', import.meta.url));

export interface ClusterServer {
  pid: number;
  port: number;
  /** The primary's children now, oldest first. */
  workers(): number[];
}

export async function startClusterPrimary(
  t: TestContext,
  options: { workers: number; env?: Record<string, string> },
): Promise<ClusterServer> {
  const child = spawn(process.execPath, [FIXTURE, String(options.workers)], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  assert.ok(pid !== undefined, 'the fixture started');
  ownProcesses(t).own(pid, 'cluster-primary.cjs');

  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const port = await new Promise<number>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`cluster-primary.cjs printed no port within 10 s; stderr: ${stderr}`)), 10_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const newline = stdout.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      resolve((JSON.parse(stdout.slice(0, newline)) as { port: number }).port);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`cluster-primary.cjs exited (${code ?? signal}) before printing its port; stderr: ${stderr}`));
    });
  });
  return { pid, port, workers: () => listChildren(pid).map((stat) => stat.pid) };
}

/** Polls `read` until `isDone` holds or the deadline passes; answers the last value read. */
export async function pollUntil<T>(read: () => T, isDone: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = read();
  while (!isDone(value) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = read();
  }
  return value;
}

/**
 * A `log` for runCheck that aborts the check `afterMs` after it reports the freeze, as a Ctrl-C
 * would, and remembers which worker it froze.
 */
export function abortOnceFrozen(controller: AbortController, afterMs = 300): { log: (line: string) => void; frozenPid: () => number } {
  let frozenPid = 0;
  return {
    log: (line) => {
      const frozen = /^froze worker (\d+)/.exec(line);
      if (frozen === null) return;
      frozenPid = Number(frozen[1]);
      setTimeout(() => controller.abort(new Error('Ctrl-C')), afterMs);
    },
    frozenPid: () => frozenPid,
  };
}
