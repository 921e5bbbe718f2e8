// How warden stops: a stop signal (graceful first, forced on SIGQUIT or a second signal), the kill of
// workers still busy at the graceful timeout, and the exit once no worker is left, with the code
// that says whether every worker stopped by warden's drain. Pure: acts through an Actions object.

import { EXIT_CODES } from '../../errors.js';
import { LOG_EVENTS } from '../../log/events.js';
import { ms, type Actions } from './actions.js';
import type { EventOf } from './events.js';
import { abortRollouts } from './rollout.js';

export function onStopSignal(run: Actions, { signal }: EventOf<'SignalReceived'>): void {
  run.state.stopSignals += 1;
  const force = signal === 'SIGQUIT' || run.state.stopSignals > 1;
  if (force) {
    run.log('warn', LOG_EVENTS.forced, undefined, `received ${signal}${signal === 'SIGQUIT' ? '' : ' again'}; killing workers without waiting`, { signal });
    abortRollouts(run, `warden received ${signal} and is stopping`);
    for (const worker of run.state.workers) if (worker.pid !== undefined) run.kill(run.own(worker));
    run.state.phase = 'exited';
    run.effects.push({ type: 'Exit', code: EXIT_CODES.forced, halt: run.state.halt });
    return;
  }
  if (run.state.phase !== 'running') return;
  run.state.phase = 'stopping';
  run.state.stopDeadline = run.now + run.state.config.gracefulTimeoutMs;
  run.log('info', LOG_EVENTS.stopping, undefined,
    `received ${signal}; finishing in-flight requests (up to ${ms(run.state.config.gracefulTimeoutMs)}), ${signal === 'SIGINT' ? 'press Ctrl-C again to force' : 'send it again to force'}`,
    { signal });
  abortRollouts(run, `warden received ${signal} and is stopping`);
  run.effects.push({ type: 'CloseListener' });
  for (const worker of run.state.workers) run.stopWorker(run.own(worker), 'warden is stopping');
}

/** On a Tick while stopping: the graceful timeout is over, so the workers still busy are killed. */
export function killPastGracefulTimeout(run: Actions): void {
  if (run.state.phase === 'running' || run.state.stopDeadline === undefined || run.now < run.state.stopDeadline) return;
  run.state.stopDeadline = undefined;
  for (const record of run.state.workers) {
    const worker = run.own(record);
    if (worker.pid !== undefined && !worker.killSent) {
      run.log('warn', LOG_EVENTS.workerKilled, worker, `worker ${worker.slot} (pid ${worker.pid}) still busy after the graceful timeout; killing it`);
      run.kill(worker);
    }
  }
}

export function exitWhenDone(run: Actions): void {
  const phase = run.state.phase;
  if ((phase !== 'stopping' && phase !== 'halting') || run.state.workers.length > 0) return;
  const halt = run.state.halt;
  run.state.phase = 'exited';
  const code = halt?.code ?? (run.state.stopWasUnclean ? EXIT_CODES.uncleanStop : EXIT_CODES.ok);
  if (halt === undefined && code === EXIT_CODES.ok) run.log('info', LOG_EVENTS.stopped, undefined, 'all workers stopped; exiting');
  if (halt === undefined && code !== EXIT_CODES.ok) {
    run.log('warn', LOG_EVENTS.stopped, undefined, `all workers stopped, but not all by warden's drain; exiting with code ${code}`, { exitCode: code });
  }
  run.effects.push({ type: 'Exit', code, halt });
}
