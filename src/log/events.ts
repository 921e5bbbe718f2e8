// Every log event name warden writes, declared once. JSON logs carry it in `event`; text logs print
// the message. Worker events always carry slot, generation and pid as fields.

export const LOG_EVENTS = {
  started: 'warden.started',
  stopping: 'warden.stopping',
  stopped: 'warden.stopped',
  halted: 'warden.halted',
  forced: 'warden.forced',
  signal: 'warden.signal',
  workerSpawned: 'worker.spawned',
  workerReady: 'worker.ready',
  workerExited: 'worker.exited',
  workerBootFailed: 'worker.boot_failed',
  workerCrashed: 'worker.crashed',
  workerLate: 'worker.late',
  workerRecovered: 'worker.recovered',
  workerStalled: 'worker.stalled',
  workerStuck: 'worker.stuck',
  workerUnhealthy: 'worker.unhealthy',
  workerDraining: 'worker.draining',
  workerRecycled: 'worker.recycled',
  workerKilled: 'worker.killed',
  workerBackoff: 'worker.backoff',
  workerOutput: 'worker.output',
  workerDiagnosis: 'worker.diagnosis',
  workerAcceptFailed: 'worker.accept_failed',
  probeFailed: 'probe.failed',
  connectionsHeld: 'connections.held',
} as const;

export type LogEvent = (typeof LOG_EVENTS)[keyof typeof LOG_EVENTS];
