// A node:test reporter that prints, once the run ends, how long each test file took (the sum of its
// top-level tests, which run one after another within a file), slowest first: where the suite's time goes.
// Used by .ci/run beside the spec reporter: --test-reporter=./test/reporters/file-times.mjs.

import { relative } from 'node:path';

export default async function* fileTimes(source) {
  const perFile = new Map();
  for await (const event of source) {
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.nesting === 0 && event.data.file !== undefined) {
      const file = relative(process.cwd(), event.data.file);
      perFile.set(file, (perFile.get(file) ?? 0) + (event.data.details?.duration_ms ?? 0));
    }
  }
  const rows = [...perFile].sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((sum, [, ms]) => sum + ms, 0);
  yield '\n| test file | seconds |\n| --- | ---: |\n';
  for (const [file, ms] of rows) yield `| ${file} | ${(ms / 1000).toFixed(1)} |\n`;
  yield `| all files (sum; files run two at a time) | ${(total / 1000).toFixed(1)} |\n`;
}
