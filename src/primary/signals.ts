// OS signals -> supervisor events. A handler only puts an event on the queue (gunicorn's SIG_QUEUE);
// the machine decides what it means. The table below is mirrored in the README (Signals).
//
//   signal   action                                                     log line
//   SIGTERM  graceful stop: close the listener, drain workers, exit 0   "received SIGTERM; finishing in-flight requests ..."
//   SIGINT   same as SIGTERM; a second SIGINT (or SIGTERM) forces       "received SIGINT again; killing workers without waiting"
//   SIGQUIT  forced stop: SIGKILL every worker, exit 130
//   SIGHUP   rolling reload: new workers from the code on disk          "reloading (asked by SIGHUP): ..."
//   SIGTTIN  one worker more                                            "scaling from 2 to 3 workers (asked by SIGTTIN)"
//   SIGTTOU  one worker fewer (never below 1)                           "scaling from 3 to 2 workers (asked by SIGTTOU)"

import type { MachineEvent } from './machine/index.js';

const TABLE: Record<string, MachineEvent> = {
  SIGTERM: { type: 'SignalReceived', signal: 'SIGTERM' },
  SIGINT: { type: 'SignalReceived', signal: 'SIGINT' },
  SIGQUIT: { type: 'SignalReceived', signal: 'SIGQUIT' },
  SIGHUP: { type: 'ReloadRequested', requestId: 0, source: 'SIGHUP' },
  SIGTTIN: { type: 'ScaleRequested', requestId: 0, source: 'SIGTTIN', delta: 1 },
  SIGTTOU: { type: 'ScaleRequested', requestId: 0, source: 'SIGTTOU', delta: -1 },
};

export function installSignalHandlers(dispatch: (event: MachineEvent) => void): () => void {
  const handlers = Object.entries(TABLE).map(([name, event]) => {
    const handler = () => dispatch(event);
    process.on(name as NodeJS.Signals, handler);
    return [name, handler] as const;
  });
  return () => {
    for (const [name, handler] of handlers) process.off(name as NodeJS.Signals, handler);
  };
}
