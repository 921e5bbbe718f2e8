// Settings from a config file, the environment and flags, as a user meets them: `warden config`
// shows what wins and why, `warden serve` obeys it, and a worker gets the argv, Node options,
// environment and working directory it was promised.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { WARDEN, descendants, fixture, get, killQuietly, startWarden } from './harness.js';

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI to completion in `cwd` (killed after 20 s). */
function run(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WARDEN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      for (const pid of descendants(child.pid as number)) killQuietly(pid);
      killQuietly(child.pid as number);
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'warden-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Shown {
  config: string | null;
  app: string | null;
  args: string[];
  settings: Record<string, { value: string; source: string }>;
}

test('precedence: flag > environment > config file > default, and `warden config` names each source', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'warden.config.json'), JSON.stringify({ app: './app.js', workers: 3, timeout: 7, gracefulTimeout: 4, port: 4100 }));
  const result = await run(['config', '--json', '--port', '4200'], dir, { WARDEN_TIMEOUT: '6', WARDEN_WORKERS: '' });
  assert.equal(result.code, 0, result.stderr);
  const shown = JSON.parse(result.stdout) as Shown;
  assert.equal(shown.config, join(dir, 'warden.config.json'));
  assert.equal(shown.app, './app.js');
  assert.deepEqual(shown.settings.port, { value: '4200', source: 'flag --port' });
  assert.deepEqual(shown.settings.timeout, { value: '6s', source: 'env WARDEN_TIMEOUT' });
  assert.deepEqual(shown.settings.gracefulTimeout, { value: '4s', source: 'warden.config.json key "gracefulTimeout"' });
  assert.deepEqual(shown.settings.workers, { value: '3', source: 'warden.config.json key "workers"' });
  assert.deepEqual(shown.settings.bootTimeout, { value: '30s', source: 'default' });

  const text = await run(['config'], dir);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^gracefulTimeout\s+4s\s+warden\.config\.json key "gracefulTimeout"$/m);
});

test('a JavaScript config file (a function returning the settings) and --config PATH', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'settings.mjs'), 'export default async () => ({ workers: 2, minReady: "50%" });\n');
  const result = await run(['config', '--json', '--config', 'settings.mjs'], dir);
  assert.equal(result.code, 0, result.stderr);
  const shown = JSON.parse(result.stdout) as Shown;
  assert.deepEqual(shown.settings.minReady, { value: '50%', source: 'settings.mjs key "minReady"' });
  assert.equal(shown.settings.workers?.value, '2');

  writeFileSync(join(dir, 'warden.config.ts'), 'const settings: { workers: number } = { workers: 4 };\nexport default settings;\n');
  const typed = await run(['config', '--json'], dir);
  assert.equal(typed.code, 0, typed.stderr);
  assert.deepEqual((JSON.parse(typed.stdout) as Shown).settings.workers, { value: '4', source: 'warden.config.ts key "workers"' });
});

test('bad settings in a config file: the option, the file and key, the rule; unknown keys get a "did you mean"', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'warden.config.json'), JSON.stringify({ workers: 'many' }));
  const bad = await run(['config'], dir);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.split('\n')[0], 'warden: --workers (from warden.config.json key "workers") must be a positive integer (at most 1024), "auto", or a range MIN..MAX such as 2..8 (got "many")');

  writeFileSync(join(dir, 'warden.config.json'), JSON.stringify({ gracefullTimeout: 3 }));
  const typo = await run(['serve', fixture('worker-env.mjs')], dir);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /warden\.config\.json: unknown option "gracefullTimeout"; did you mean "gracefulTimeout"\?/);

  const env = await run(['config'], dir, { WARDEN_TIMEOUT: 'soon' });
  assert.equal(env.code, 2);
  assert.match(env.stderr, /unknown option "gracefullTimeout"/, 'the file is checked even when the environment sets other options');

  rmSync(join(dir, 'warden.config.json'));
  const envBad = await run(['config'], dir, { WARDEN_TIMEOUT: 'soon' });
  assert.equal(envBad.code, 2);
  assert.equal(envBad.stderr.split('\n')[0], 'warden: --timeout (from WARDEN_TIMEOUT) must be a number of seconds above 0 (at least 0.001) (got "soon")');

  const missing = await run(['config', '--config', 'nope.json'], dir);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--config nope\.json: no such file/);
});

test('`-- ARGS`: each worker sees the process.argv that `node app.js ARGS` gives', async (t) => {
  const app = fixture('introspect.mjs');
  const warden = await startWarden(t, [app, '--workers', '1', '--', '--db', 'db.json', 'two words', '--port', '1']);
  const answer = JSON.parse((await get(warden.port, '/')).body) as { argv: string[] };
  assert.deepEqual(answer.argv.slice(1), [app, '--db', 'db.json', 'two words', '--port', '1']);
  assert.equal(answer.argv[0], process.execPath);
});

test('the app and its arguments from the config file; `warden serve -- ARGS` replaces the arguments', async (t) => {
  const dir = tempDir(t);
  const app = fixture('introspect.mjs');
  writeFileSync(join(dir, 'warden.config.json'), JSON.stringify({ app, args: ['from-file'] }));
  const fromFile = await startWarden(t, [], { cwd: dir });
  assert.deepEqual((JSON.parse((await get(fromFile.port, '/')).body) as { argv: string[] }).argv.slice(1), [app, 'from-file']);
  const fromCli = await startWarden(t, ['--', 'from-cli'], { cwd: dir });
  assert.deepEqual((JSON.parse((await get(fromCli.port, '/')).body) as { argv: string[] }).argv.slice(1), [app, 'from-cli']);
});

test('--env-file, --node-args and --cwd reach every worker; variables already set win over the file', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'app.env'), 'FROM_ENV_FILE="hello from the file"\nSHARED=file\n');
  // The env file's path is relative to --cwd. (Given here through WARDEN_ENV_FILE: Node itself
  // checks that a `--env-file X` anywhere on its command line exists, relative to the shell's cwd.)
  const warden = await startWarden(t, [fixture('introspect.mjs'), '--workers', '2', '--cwd', dir, '--node-args', '--max-old-space-size=123 --no-warnings'], {
    env: { SHARED: 'shell', WARDEN_ENV_FILE: 'app.env' },
  });
  const answers = await Promise.all([get(warden.port, '/'), get(warden.port, '/')]);
  for (const answer of answers) {
    const body = JSON.parse(answer.body) as { execArgv: string[]; cwd: string; fromEnvFile: string; shared: string; heapLimitMb: number };
    assert.equal(body.fromEnvFile, 'hello from the file');
    assert.equal(body.shared, 'shell');
    assert.equal(body.cwd, dir);
    assert.ok(body.execArgv.includes('--max-old-space-size=123') && body.execArgv.includes('--no-warnings'), JSON.stringify(body.execArgv));
    // The limit is the old space (123 MB) plus the young generation, which Node 24 sizes at ~190 MB;
    // without the flag it is several GB on this machine.
    assert.ok(body.heapLimitMb < 1024, `heap limit ${body.heapLimitMb} MB follows --max-old-space-size=123`);
  }
});

test('--env-file that cannot be read and --node-args that are not Node options are refused', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'warden.config.json'), JSON.stringify({ envFile: 'missing.env' }));
  const noFile = await run(['serve', fixture('worker-env.mjs'), '--port', '0', '--admin-port', '0'], dir);
  rmSync(join(dir, 'warden.config.json'));
  assert.equal(noFile.code, 2);
  assert.match(noFile.stderr, /--env-file missing\.env: cannot read .*missing\.env \(ENOENT\)/);
  const badArgs = await run(['serve', fixture('worker-env.mjs'), '--port', '0', '--admin-port', '0', '--node-args', 'max-old-space-size=1'], dir);
  assert.equal(badArgs.code, 2);
  assert.match(badArgs.stderr, /--node-args must be Node options, each starting with "-"/);
  const stray = await run(['serve', fixture('worker-env.mjs'), 'db.json'], dir);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /too many arguments: "db\.json"\n {2}hint: put the app's own arguments after --/);
});
