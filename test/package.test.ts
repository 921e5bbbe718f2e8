// The package as users get it: `npm pack`, install the tarball into an empty project (from the npm
// cache, offline when it holds everything), then `npx warden serve` an app, import the API from ESM
// and CommonJS, and type-check a TypeScript user of it. Not part of `npm test` (it installs
// packages); `.ci/run` runs it: `node --test dist/test/package.test.js` after `npm run build`.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT, get, killQuietly, ownProcesses, waitFor } from './integration/harness.js';

const run = promisify(execFile);
const NPM_TIMEOUT_MS = 180_000;

test('the packed tarball installs into an empty project and serves with `npx warden serve` and with the API', { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-pack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  // The build is already there (npm run build); do not rebuild while tests may be running.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, timeout: NPM_TIMEOUT_MS });
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  assert.ok(info !== undefined);
  const files = info.files.map((file) => file.path);
  for (const needed of ['bin/warden.js', 'dist/src/cli/main.js', 'dist/src/index.js', 'dist/src/index.cjs', 'dist/src/index.d.ts', 'dist/src/index.d.cts', 'LICENSE', 'CHANGELOG.md', 'README.md', 'package.json']) {
    assert.ok(files.includes(needed), `the tarball holds ${needed}`);
  }
  assert.ok(!files.some((path) => path.startsWith('dist/test/') || path.startsWith('src/') || path.startsWith('test/')), 'no tests or sources in the tarball');

  const project = join(dir, 'project');
  rmSync(project, { recursive: true, force: true });
  await run('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'warden-pack-test', version: '1.0.0', private: true, type: 'module' }));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=dev', join(dir, info.filename)], { cwd: project, timeout: NPM_TIMEOUT_MS });
  assert.ok(existsSync(join(project, 'node_modules', '.bin', 'warden')), 'npm linked the warden command');
  assert.ok(!readdirSync(join(project, 'node_modules')).includes('typescript'), 'no devDependency was installed');
  const installed = JSON.parse(readFileSync(join(project, 'node_modules', 'warden', 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) {
    assert.equal(installed.scripts?.[hook], undefined, `the published package runs no "${hook}" script at install (it ships dist/ built)`);
  }

  writeFileSync(join(project, 'app.mjs'), "export default (req, res) => res.end(`hello ${process.argv.slice(2).join(' ')}`);\n");

  // npx warden serve
  const child = spawn('npx', ['--no-install', 'warden', 'serve', 'app.mjs', '--workers', '2', '--port', '0', '--admin-port', '0', '--', 'from', 'npx'], {
    cwd: project, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  // Owned: npx, the warden it runs and every worker are killed by pid when the test ends.
  const owned = ownProcesses(t);
  owned.own(child.pid, 'npx warden serve');
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const match = await waitFor('the startup line', () => {
    owned.scan();
    return /warden \d+\.\d+\.\d+ serving app\.mjs with 2 workers on http:\/\/127\.0\.0\.1:(\d+) \(admin http:\/\/127\.0\.0\.1:(\d+), control \S+, pid (\d+)\)/.exec(output) ?? undefined;
  }, 30_000).catch((error: Error) => assert.fail(`${error.message}\n${output}`));
  await waitFor('ready', async () => (await get(Number(match[2]), '/readyz')).status === 200, 20_000);
  owned.scan();
  assert.equal((await get(Number(match[1]), '/')).body, 'hello from npx');
  killQuietly(Number(match[3]), 'SIGTERM');
  assert.equal(await exited, 0, output);

  // The API from ESM and from CommonJS, in the project's own Node processes.
  const script = (load: string) => `${load}
const server = await serve({ app: 'app.mjs', port: 0, adminPort: 0, silent: true, args: ['from', 'the', 'API'] });
const ready = new Promise((resolve) => server.once('workerReady', resolve));
await ready;
const body = await (await fetch(server.url)).text();
const result = await server.close();
console.log(JSON.stringify({ body, code: result.code }));
`;
  writeFileSync(join(project, 'esm.mjs'), script("import { serve } from 'warden';"));
  writeFileSync(join(project, 'cjs.cjs'), `(async () => {\n${script("const { serve } = require('warden');")}\n})();\n`);
  for (const file of ['esm.mjs', 'cjs.cjs']) {
    const { stdout } = await run(process.execPath, [file], { cwd: project, timeout: 60_000 });
    assert.deepEqual(JSON.parse(stdout.trim()), { body: 'hello from the API', code: 0 }, file);
  }

  // Types, for an ESM and a CommonJS TypeScript user.
  const typed = (load: string) => `${load}
async function main(): Promise<number> {
  const server = await serve({ app: 'app.mjs', workers: 'auto', gracefulTimeout: 5, nodeArgs: ['--max-old-space-size=256'] });
  server.on('workerStalled', (event) => console.log(event.slot, event.pid, event.message));
  server.on('workerExited', (event) => console.log(event.code, event.signal, event.planned));
  const port: number = server.listen.port;
  return (await server.close()).code + port;
}
void main;
`;
  writeFileSync(join(project, 'typed.mts'), typed("import { serve } from 'warden';"));
  // In a .cts file this import compiles to require('warden') and takes the "require" types.
  writeFileSync(join(project, 'typed.cts'), typed("import { serve } from 'warden';"));
  writeFileSync(join(project, 'bad.cts'), "import { serve } from 'warden';\nvoid serve({ app: 'a.js', workers: true });\n");
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const flags = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--typeRoots', join(ROOT, 'node_modules', '@types'), '--types', 'node'];
  await run(process.execPath, [tsc, ...flags, 'typed.mts', 'typed.cts'], { cwd: project, timeout: 120_000 }).catch((error: { stdout?: string }) => assert.fail(`types: ${error.stdout ?? String(error)}`));
  const bad = await run(process.execPath, [tsc, ...flags, 'bad.cts'], { cwd: project, timeout: 120_000 }).then(() => undefined, (error: { stdout?: string }) => error.stdout ?? '');
  assert.match(bad ?? 'no type error', /bad\.cts\(2,\d+\): error TS2322/, 'a wrong option type is a type error');
});
