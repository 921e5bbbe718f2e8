// OS signals -> supervisor events. A handler only puts an event on the queue (gunicorn's SIG_QUEUE);
// the machine decides what it means. The table below is mirrored in the README (Signals).
//
//   signal   action                                                     log line
//   SIGTERM  graceful stop: close the listener, drain workers, exit 0   "received SIGTERM; finishing in-flight requests ..."
//   SIGINT   same as SIGTERM; a second SIGINT (or SIGTERM) forces       "received SIGINT again; killing workers without waiting"
//   SIGHUP   same as SIGTERM (a terminal hang-up must not orphan workers)
//   SIGQUIT  forced stop: SIGKILL every worker, exit 130

import type { MachineEvent } from './machine.js';

const TABLE: Record<string, 'SIGTERM' | 'SIGINT' | 'SIGQUIT'> = {
  SIGTERM: 'SIGTERM',
  SIGINT: 'SIGINT',
  SIGHUP: 'SIGTERM',
  SIGQUIT: 'SIGQUIT',
};

export function installSignalHandlers(dispatch: (event: MachineEvent) => void): () => void {
  const handlers = Object.entries(TABLE).map(([name, as]) => {
    const handler = () => dispatch({ type: 'SignalReceived', signal: name === 'SIGINT' ? 'SIGINT' : as });
    process.on(name as NodeJS.Signals, handler);
    return [name, handler] as const;
  });
  return () => {
    for (const [name, handler] of handlers) process.off(name as NodeJS.Signals, handler);
  };
}
