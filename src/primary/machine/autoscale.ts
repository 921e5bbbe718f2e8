// The autoscaling rule for `--workers MIN..MAX`, pure and in plain numbers: grow by one when the
// fleet's event-loop utilisation (ELU) stays above a line, retire one when it stays below a lower line
// (the gap is the hysteresis), wait a cool-down after every change, and never go past the CPUs the
// cgroup quota allows or the workers the memory limit holds (the figures `--workers auto` uses).
// A kernel accept queue that stays long counts as high too: connections wait for a free worker.
// No I/O, no clock: the caller passes `now` and the facts; the state it returns is the only memory.

import { seconds } from '../../units.js';

export interface AutoscalePolicy {
  min: number;
  max: number;
  /** Fleet ELU at or above this, for riseForMs, adds a worker. */
  riseAbove: number;
  /** Fleet ELU at or below this, for fallForMs, retires one. Below riseAbove: the band between holds. */
  fallBelow: number;
  riseForMs: number;
  fallForMs: number;
  /** After a change, no other change for this long: the new worker has to take load first. */
  coolDownMs: number;
  /** Connections waiting in the kernel's accept queue at or above this count as high, whatever the ELU. */
  queueAbove: number;
}

export const DEFAULT_AUTOSCALE: Omit<AutoscalePolicy, 'min' | 'max'> = {
  riseAbove: 0.8,
  fallBelow: 0.3,
  riseForMs: 10_000,
  fallForMs: 30_000,
  coolDownMs: 20_000,
  queueAbove: 16,
};

/** The policy for `--workers MIN..MAX` with `--autoscale-window W`: rise after W, fall after 3 W, cool down 2 W. */
export function autoscalePolicy(range: { min: number; max: number }, windowMs: number): AutoscalePolicy {
  return { ...DEFAULT_AUTOSCALE, min: range.min, max: range.max, riseForMs: windowMs, fallForMs: 3 * windowMs, coolDownMs: 2 * windowMs };
}

/** What the host allows, read once at start (and again when a worker's RSS is measured). */
export interface AutoscaleCaps {
  /**
   * CPUs the cgroup CPU quota allows (rounded up, as `--workers auto` counts them); undefined without
   * a quota: then MAX alone caps (on a bare host the operator's MAX may go past the cores).
   */
  cpuCount: number | undefined;
  /** Workers the memory limit holds (`workersThatFit(...).memoryAllows`), undefined without a limit. */
  memoryAllows: number | undefined;
}

export interface AutoscaleState {
  /** When the fleet ELU last went to or above riseAbove and stayed there; undefined when it is not. */
  highSince: number | undefined;
  lowSince: number | undefined;
  /** When the rule last changed the count. */
  changedAt: number | undefined;
}

export const AUTOSCALE_START: AutoscaleState = { highSince: undefined, lowSince: undefined, changedAt: undefined };

export type AutoscaleReason =
  | 'below minimum'
  | 'above maximum'
  | 'utilization high'
  | 'utilization low'
  | 'cooling down'
  | 'at cpu quota'
  | 'at memory limit'
  | 'at maximum'
  | 'at minimum'
  | 'steady'
  | 'rollout in progress'
  | 'no data';

/** Every reason, for the metric's label values. */
export const AUTOSCALE_REASONS: readonly AutoscaleReason[] = [
  'below minimum', 'above maximum', 'utilization high', 'utilization low', 'cooling down', 'at cpu quota', 'at memory limit', 'at maximum', 'at minimum', 'steady',
  'rollout in progress', 'no data',
];

export interface AutoscaleDecision {
  /** The worker count wanted: the current one when the rule holds. */
  workers: number;
  change: 'grow' | 'shrink' | 'hold';
  reason: AutoscaleReason;
  /** One sentence for the log and `warden status`, with the figures behind it. */
  detail: string;
}

/** The highest count the rule may reach: MAX lowered by the CPUs and the memory limit, never below MIN. */
export function autoscaleCeiling(policy: Pick<AutoscalePolicy, 'min' | 'max'>, caps: AutoscaleCaps): { workers: number; limitedBy: 'maximum' | 'cpu quota' | 'memory limit' } {
  const cpu = caps.cpuCount === undefined ? Infinity : Math.max(1, Math.ceil(caps.cpuCount));
  const memory = caps.memoryAllows === undefined ? Infinity : Math.max(0, Math.floor(caps.memoryAllows));
  const lowest = Math.min(policy.max, cpu, memory);
  const limitedBy = lowest === policy.max ? 'maximum' : lowest === cpu ? 'cpu quota' : 'memory limit';
  return { workers: Math.max(policy.min, lowest), limitedBy };
}

/** The fleet's saturation as one number: the mean ELU of the workers that reported one. */
export function fleetUtilization(utilizations: readonly (number | undefined)[]): number | undefined {
  const known = utilizations.filter((value): value is number => value !== undefined && Number.isFinite(value));
  if (known.length === 0) return undefined;
  return Math.round((known.reduce((sum, value) => sum + value, 0) / known.length) * 1000) / 1000;
}

/**
 * One pass of the rule, called on every housekeeping tick with the fleet ELU of the ready workers.
 * Growing and shrinking move one worker at a time; a count outside MIN..MAX is brought back at once.
 */
export function decideAutoscale(
  policy: AutoscalePolicy,
  caps: AutoscaleCaps,
  state: AutoscaleState,
  input: { now: number; workers: number; utilization: number | undefined; acceptQueue?: number | undefined; isRollingOut?: boolean },
): { state: AutoscaleState; decision: AutoscaleDecision } {
  const { now, workers, utilization } = input;
  const queue = input.acceptQueue;
  const hold = (reason: AutoscaleReason, detail: string, next: AutoscaleState = state) => ({ state: next, decision: { workers, change: 'hold' as const, reason, detail } });
  const changeTo = (to: number, reason: AutoscaleReason, detail: string) => ({
    state: { highSince: undefined, lowSince: undefined, changedAt: now },
    decision: { workers: to, change: to > workers ? ('grow' as const) : ('shrink' as const), reason, detail },
  });

  if (workers < policy.min) return changeTo(policy.min, 'below minimum', `${workers} worker(s), fewer than the minimum ${policy.min}`);
  if (workers > policy.max) return changeTo(policy.max, 'above maximum', `${workers} worker(s), more than the maximum ${policy.max}`);
  // A reload or a scale under way changes the fleet under the readings: decide once it is over.
  if (input.isRollingOut === true) return hold('rollout in progress', 'a reload or scale is in progress; no autoscaling decision until it ends', withoutTimers(state));
  if (utilization === undefined) return hold('no data', 'no worker has reported its event-loop utilization yet', withoutTimers(state));

  const isQueueHigh = queue !== undefined && queue !== null && queue >= policy.queueAbove;
  const percent = `${Math.round(utilization * 100)} %${isQueueHigh ? `, ${queue} connection(s) in the accept queue` : ''}`;
  const highSince = utilization >= policy.riseAbove || isQueueHigh ? (state.highSince ?? now) : undefined;
  const lowSince = utilization <= policy.fallBelow ? (state.lowSince ?? now) : undefined;
  const next: AutoscaleState = { highSince, lowSince, changedAt: state.changedAt };
  if (highSince === undefined && lowSince === undefined) {
    return hold('steady', `fleet utilization ${percent}, between ${Math.round(policy.fallBelow * 100)} % and ${Math.round(policy.riseAbove * 100)} %`, next);
  }
  const isHigh = highSince !== undefined;
  const heldForMs = now - (isHigh ? highSince : (lowSince as number));
  if (heldForMs < (isHigh ? policy.riseForMs : policy.fallForMs)) {
    return hold('steady', `fleet utilization ${percent} for ${seconds(heldForMs)} of the ${seconds(isHigh ? policy.riseForMs : policy.fallForMs)} needed to ${isHigh ? 'grow' : 'shrink'}`, next);
  }
  if (state.changedAt !== undefined && now - state.changedAt < policy.coolDownMs) {
    return hold('cooling down', `fleet utilization ${percent}, but the last change was ${seconds(now - state.changedAt)} ago (cool-down ${seconds(policy.coolDownMs)})`, next);
  }
  if (isHigh) {
    const ceiling = autoscaleCeiling(policy, caps);
    if (workers >= ceiling.workers) {
      const reason: AutoscaleReason = ceiling.limitedBy === 'cpu quota' ? 'at cpu quota' : ceiling.limitedBy === 'memory limit' ? 'at memory limit' : 'at maximum';
      const what = { 'at cpu quota': `the ${Math.ceil(caps.cpuCount ?? 0)} CPU(s) of the cgroup quota`, 'at memory limit': `the ${caps.memoryAllows} worker(s) the memory limit holds`, 'at maximum': `the maximum ${policy.max}` }[reason as 'at cpu quota'];
      return hold(reason, `fleet utilization ${percent} for ${seconds(heldForMs)}, but ${workers} worker(s) is already ${what}`, next);
    }
    return changeTo(workers + 1, 'utilization high', `fleet utilization ${percent} for ${seconds(heldForMs)} (at or above ${Math.round(policy.riseAbove * 100)} %): ${workers} -> ${workers + 1} workers`);
  }
  if (workers <= policy.min) return hold('at minimum', `fleet utilization ${percent} for ${seconds(heldForMs)}, but ${workers} worker(s) is the minimum`, next);
  return changeTo(workers - 1, 'utilization low', `fleet utilization ${percent} for ${seconds(heldForMs)} (at or below ${Math.round(policy.fallBelow * 100)} %): ${workers} -> ${workers - 1} workers`);
}

/** Without data the timers restart: a sustained high or low must be seen, not assumed across a gap. */
function withoutTimers(state: AutoscaleState): AutoscaleState {
  return { highSince: undefined, lowSince: undefined, changedAt: state.changedAt };
}

/** What the machine keeps for `--workers MIN..MAX` (MachineState.autoscale); replaced whole by each step. */
export interface AutoscaleRun {
  policy: AutoscalePolicy;
  caps: AutoscaleCaps;
  rule: AutoscaleState;
  /** The last decision logged (a change, or a hold worth saying: a cap, the cool-down, a rollout), with when. */
  last: (AutoscaleDecision & { at: number; from: number }) | undefined;
  /** Logged decisions by direction and reason, for `warden_autoscale_decisions_total`. */
  counts: Readonly<Record<string, number>>;
  /** The service socket's accept queue at the last sample; undefined when unknown. */
  acceptQueue: number | undefined;
}

export function startAutoscale(policy: AutoscalePolicy, caps: AutoscaleCaps): AutoscaleRun {
  return { policy, caps, rule: AUTOSCALE_START, last: undefined, counts: {}, acceptQueue: undefined };
}

/** The counter key of a decision: "grow:utilization high". */
export function decisionKey(change: AutoscaleDecision['change'], reason: AutoscaleReason): string {
  return `${change}:${reason}`;
}

/** Holds worth a log line (and a count) when they begin: something stops the rule from acting. */
const NOTABLE_HOLDS: ReadonlySet<AutoscaleReason> = new Set(['at cpu quota', 'at memory limit', 'at maximum', 'cooling down', 'rollout in progress']);

/**
 * One sample of the fleet (about once a second): the rule's decision, and whether it is to be logged
 * and counted: every change, and a notable hold when it differs from the last one logged.
 */
export function sampleAutoscale(
  run: AutoscaleRun,
  input: { now: number; workers: number; utilization: number | undefined; acceptQueue: number | undefined; isRollingOut: boolean },
): { run: AutoscaleRun; decision: AutoscaleDecision; isLogged: boolean } {
  const { state, decision } = decideAutoscale(run.policy, run.caps, run.rule, input);
  const last = run.last;
  const isLogged = decision.change !== 'hold'
    || (NOTABLE_HOLDS.has(decision.reason) && (last === undefined || last.change !== 'hold' || last.reason !== decision.reason));
  const next: AutoscaleRun = { ...run, rule: state, acceptQueue: input.acceptQueue };
  if (isLogged) {
    const key = decisionKey(decision.change, decision.reason);
    next.last = { ...decision, at: input.now, from: input.workers };
    next.counts = { ...run.counts, [key]: (run.counts[key] ?? 0) + 1 };
  }
  return { run: next, decision, isLogged };
}
