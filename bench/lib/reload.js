// EXPERIMENT SLOT, to be filled with `warden reload` (issue 9): a rolling reload under load, warden
// reload against pm2 reload (node:cluster has none): failed requests, seconds until every worker is
// of the new generation, throughput during the reload. Until then it reports that it did not run;
// it never makes up a figure.

export async function runReload() {
  return { ran: false, reason: 'needs `warden reload` (issue 9); fill in bench/lib/reload.js' };
}
