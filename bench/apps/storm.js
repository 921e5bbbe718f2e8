// The crash-storm app (bench/storm.js): answers like hello.js until the file
// $BENCH_STATS_DIR/storm exists; from then on every worker that starts throws 300 ms after it has
// loaded (a crash loop after serving: the database went away), until the file is removed.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.BENCH_STATS_DIR ?? '';
// <pid>.json tells the bench's startWarden() that this worker has loaded the app.
if (dir !== '') writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify({ pid: process.pid }));
if (dir !== '' && existsSync(join(dir, 'storm'))) {
  setTimeout(() => {
    throw new Error('storm: the database went away');
  }, 300);
}

export default (req, res) => {
  res.setHeader('x-pid', String(process.pid));
  res.end('hello\n');
};
