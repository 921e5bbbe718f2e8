// examples/Dockerfile and examples/compose.yaml, checked as far as a machine without docker allows:
// every file the image copies exists in the build context (and is not excluded by its dockerignore),
// the image is multi-stage, non-root, installs with `npm ci --omit=dev`, stops on SIGTERM, and its CMD,
// run directly from the repository root as WORKDIR /app mirrors it, serves on the flags it passes.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ROOT, get, getJson, startWarden, waitFor } from './harness.js';

interface Instruction {
  stage: string;
  keyword: string;
  rest: string;
}

/** The Dockerfile as instructions tagged with their stage; comments and blank lines dropped. */
function readDockerfile(path: string): Instruction[] {
  const lines = readFileSync(path, 'utf8').replace(/\\\n/g, ' ').split('\n');
  const instructions: Instruction[] = [];
  let stage = '';
  let index = 0;
  for (const line of lines) {
    const text = line.trim();
    if (text === '' || text.startsWith('#')) continue;
    const [keyword = '', ...rest] = text.split(/\s+/);
    if (keyword.toUpperCase() === 'FROM') {
      const named = /\bAS\s+(\S+)/i.exec(text);
      stage = named?.[1] ?? `stage${index}`;
      index++;
    }
    instructions.push({ stage, keyword: keyword.toUpperCase(), rest: rest.join(' ') });
  }
  return instructions;
}

const DOCKERFILE = join(ROOT, 'examples/Dockerfile');
const instructions = readDockerfile(DOCKERFILE);
const stages = [...new Set(instructions.map((instruction) => instruction.stage))];
const finalStage = stages[stages.length - 1] as string;
const final = instructions.filter((instruction) => instruction.stage === finalStage);

function copySources(rest: string): { from: string | undefined; sources: string[] } {
  const words = rest.split(/\s+/);
  const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
  const paths = words.filter((word) => !word.startsWith('--'));
  return { from, sources: paths.slice(0, -1) };
}

test('every file the Dockerfile copies from the build context exists and is not dockerignored', () => {
  const ignored = readFileSync(join(ROOT, 'examples/Dockerfile.dockerignore'), 'utf8').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  let copies = 0;
  for (const instruction of instructions.filter((item) => item.keyword === 'COPY')) {
    const { from, sources } = copySources(instruction.rest);
    if (from !== undefined) continue;
    for (const source of sources) {
      copies++;
      assert.ok(existsSync(join(ROOT, source)), `COPY ${source} (stage ${instruction.stage}) exists in the build context`);
      const top = source.split('/')[0] as string;
      assert.ok(!ignored.includes(top) && !ignored.includes(source), `COPY ${source} is not excluded by the dockerignore`);
    }
  }
  assert.ok(copies >= 5, `the Dockerfile copies the app's files (${copies} sources)`);
});

test('what the runtime stage copies from the build stage is what that stage builds (dist/ from tsc)', () => {
  const fromBuild = final.filter((instruction) => instruction.keyword === 'COPY' && copySources(instruction.rest).from !== undefined);
  assert.ok(fromBuild.length >= 1);
  for (const instruction of fromBuild) {
    const { from, sources } = copySources(instruction.rest);
    assert.ok(stages.includes(from as string), `--from=${from} names a stage`);
    for (const source of sources) {
      assert.equal(source, '/app/dist', 'only the compiled output comes from the build stage');
      assert.ok(instructions.some((item) => item.stage === from && item.keyword === 'RUN' && /\btsc\b/.test(item.rest)), 'the build stage runs tsc');
      assert.ok(existsSync(join(ROOT, 'dist/src/cli/main.js')), 'tsc makes dist/src/cli/main.js, which bin/warden.js loads');
    }
  }
});

test('npm ci --omit=dev is enough: the compiled code imports only dependencies and node: builtins', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const files = readdirSync(join(ROOT, 'dist/src'), { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.js'));
  assert.ok(files.length > 10);
  for (const file of files) {
    const source = readFileSync(join(ROOT, 'dist/src', file), 'utf8');
    for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const specifier = (match[1] ?? match[2]) as string;
      if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
      const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] as string);
      assert.ok(name in pkg.dependencies, `dist/src/${file} imports "${specifier}", which is not in dependencies`);
    }
  }
});

test('the image is multi-stage, non-root, production-only, and stops on SIGTERM', () => {
  assert.ok(stages.length >= 2, 'multi-stage');
  assert.ok(final.some((item) => item.keyword === 'RUN' && /npm ci --omit=dev/.test(item.rest)), 'npm ci --omit=dev in the runtime stage');
  const user = final.filter((item) => item.keyword === 'USER').at(-1)?.rest;
  assert.ok(user !== undefined && !/^(root|0)(:|$)/.test(user), `runs as a non-root user (USER ${user})`);
  assert.match(user, /^\d+(:\d+)?$/, 'a numeric user, so that Kubernetes runAsNonRoot can verify it');
  assert.equal(final.find((item) => item.keyword === 'STOPSIGNAL')?.rest, 'SIGTERM');
});

test("the image's CMD, run directly with the flags it passes, serves the app and the probes", async (t) => {
  const cmd = JSON.parse(final.find((item) => item.keyword === 'CMD')?.rest ?? 'null') as string[];
  assert.ok(Array.isArray(cmd), 'exec-form CMD, so warden itself gets SIGTERM (no shell in between)');
  assert.deepEqual(cmd.slice(0, 2), ['warden', 'serve']);
  assert.equal(cmd[cmd.indexOf('--host') + 1], '0.0.0.0', 'listens on every interface of the container');
  assert.equal(cmd[cmd.indexOf('--admin-host') + 1], '0.0.0.0', 'probes from the kubelet reach the admin server');
  const env = Object.fromEntries(final.filter((item) => item.keyword === 'ENV').map((item) => item.rest.split('=') as [string, string]));
  // Here the hosts become 127.0.0.1 and the harness adds --port 0 --admin-port 0.
  const args = cmd.slice(2).map((arg, index, all) => (all[index - 1] === '--host' || all[index - 1] === '--admin-host' ? '127.0.0.1' : arg));
  const warden = await startWarden(t, args, { env, cwd: ROOT });
  const answer = await get(warden.port, '/');
  assert.equal(answer.status, 200);
  assert.match(answer.body, /^hello from worker \d+ of \d+/);
  await waitFor('/readyz 200', async () => (await getJson(warden.adminPort, '/readyz')).status === 200);
  assert.equal((await get(warden.adminPort, '/livez')).status, 200);
});

test('compose.yaml builds examples/Dockerfile from the repository root, with a stop grace longer than the drain', () => {
  const compose = parse(readFileSync(join(ROOT, 'examples/compose.yaml'), 'utf8')) as {
    services: Record<string, { build: { context: string; dockerfile: string }; stop_signal: string; stop_grace_period: string; ports: string[] }>;
  };
  const [service] = Object.values(compose.services);
  assert.ok(service !== undefined);
  const context = join(ROOT, 'examples', service.build.context);
  assert.ok(existsSync(join(context, service.build.dockerfile)), 'the Dockerfile is found from the build context');
  assert.ok(existsSync(join(context, 'package-lock.json')), 'the context is the repository root');
  assert.equal(service.stop_signal, 'SIGTERM');
  const cmd = JSON.parse(final.find((item) => item.keyword === 'CMD')?.rest ?? '[]') as string[];
  const graceful = Number(cmd[cmd.indexOf('--graceful-timeout') + 1]);
  assert.ok(Number.parseInt(service.stop_grace_period, 10) > graceful, `stop_grace_period ${service.stop_grace_period} > --graceful-timeout ${graceful}`);
  for (const port of service.ports) assert.match(port, /^127\.0\.0\.1:/, 'published on the host loopback only');
});
