// The supervisor state machine, pure: step.ts maps events to their handlers (worker-events.ts,
// stopping.ts, rollout.ts) and runs the housekeeping pass,
// state-facts.ts what each state is known to be (its rotation, whether it is settled),
// rollout.ts the reconciling toward a target generation (reload), worker count (scale) and upkeep
// recycling, types.ts the state, events.ts the events and effects, state.ts building and reading a
// state. supervisor.ts is the only caller.

export { step, stepFully } from './step.js';
export { isSettled, rotationOf } from './state-facts.js';
export { quietUntil } from './liveness.js';
export * from './types.js';
export * from './events.js';
export * from './state.js';
