// What the control socket's requests do (`warden reload`, `scale`, `status`, `profile`): each is
// turned into a machine event through the supervisor or answered from what the primary knows.
// It owns no state; the supervisor passes in what a request needs.

import type { ControlRequest } from '../control/protocol.js';
import { formatTopFunctions } from '../diagnose/cpu-profile.js';
import type { EvidenceCollector } from '../diagnose/evidence.js';
import type { MachineState } from './machine/index.js';
import type { LifecycleOutcome } from './requests.js';

type Progress = (message: string) => void;
export type ControlAnswer = { ok: boolean; message: string; data?: unknown };

export interface ControlTarget {
  reload(progress: Progress): Promise<LifecycleOutcome>;
  scale(target: { workers: number } | { delta: number }, progress: Progress): Promise<LifecycleOutcome>;
  /** The `/workers` body. */
  status(): unknown;
  state(): MachineState;
  readonly evidence: EvidenceCollector;
}

export async function answerControl(target: ControlTarget, request: ControlRequest, progress: Progress): Promise<ControlAnswer> {
  switch (request.cmd) {
    case 'reload':
      return target.reload(progress);
    case 'scale':
      return target.scale('workers' in request ? { workers: request.workers } : { delta: request.delta }, progress);
    case 'status':
      return { ok: true, message: 'status', data: target.status() };
    case 'profile':
      return profile(target, request.slot, request.seconds, progress);
    default: {
      const impossible: never = request;
      throw new Error(`supervisor: unknown control request ${JSON.stringify(impossible)}`);
    }
  }
}

/** `warden profile <slot>`: a CPU profile of the slot's live worker through its inspector (127.0.0.1 only). */
async function profile(target: ControlTarget, slot: number, seconds: number, progress: Progress): Promise<ControlAnswer> {
  const worker = target.state().workers.find((candidate) => candidate.slot === slot && candidate.state === 'ready' && candidate.pid !== undefined);
  if (worker?.pid === undefined) return { ok: false, message: `no ready worker in slot ${slot}` };
  const port = target.evidence.inspectPort(worker.id);
  if (port === undefined) return { ok: false, message: `worker ${slot} (pid ${worker.pid}) has no inspector port: it was started with --capture-stacks off` };
  progress(`profiling worker ${slot} (pid ${worker.pid}) for ${seconds}s`);
  const summary = await target.evidence.profile(worker.pid, port, slot, Math.round(seconds * 1000));
  if (!('top' in summary)) return { ok: false, message: `no profile of worker ${slot} (pid ${worker.pid}): ${summary.reason}` };
  const saved = summary.path !== undefined ? `saved as ${summary.path}` : summary.notSaved !== undefined ? `not saved: ${summary.notSaved}` : 'not saved (no --profile-dir)';
  return { ok: true, message: `worker ${slot} (pid ${worker.pid}), ${seconds}s, ${saved}; top functions by self time:\n${formatTopFunctions(summary.top) || '(no samples)'}`, data: summary };
}
