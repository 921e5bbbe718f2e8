// The rolling-reload experiment of the suite: bench/reload.js (warden reload against pm2 reload under
// keep-alive and new-connection load), its rows shaped for the report. node:cluster has no reload.

import { runReload as runReloadBench } from '../reload.js';

export async function runReload({ quick, log }) {
  if (quick) process.env.REPEATS ??= '1';
  log?.('reload: warden reload against pm2 reload under load');
  const result = await runReloadBench();
  const show = (s) => (s.min === s.max ? `${s.median}` : `${s.median} (${s.min}-${s.max})`);
  return {
    ran: true,
    rows: result.results.map((r) => ({
      contender: r.contender === 'warden' ? 'warden reload' : 'pm2 reload',
      'keep-alive failed': show(r.keepaliveFailed),
      'new connection failed': show(r.newconnFailed),
      'requests sent': show(r.sent),
      'reload took s': show(r.reloadS),
    })),
    results: result.results,
  };
}
