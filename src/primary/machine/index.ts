// The supervisor state machine, pure: step.ts holds the event handlers and the housekeeping pass,
// rollout.ts the reconciling toward a target generation (reload), worker count (scale) and upkeep
// recycling, types.ts the state, events and effects. supervisor.ts is the only caller.

export { isSettled, rotationOf, step, stepFully } from './step.js';
export * from './types.js';
