// `node --import bench/lib/module-log.js ...`: appends the URL of every module the process loads to
// $BENCH_MODULE_LOG, one a line (bench/profile-startup.js counts them). The same file is the
// --import entry, on the main thread, and the load hook, on the loader's thread.

import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) register(import.meta.url);

export async function load(url, context, next) {
  const result = await next(url, context);
  appendFileSync(process.env.BENCH_MODULE_LOG, `${url}\n`);
  return result;
}
