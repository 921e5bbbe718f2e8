// `warden k8s` as users run it: the printed YAML parses and validates, each bad input exits 2 naming
// its flag, and a real warden started with the container's own arguments (ports swapped for port 0,
// hosts for 127.0.0.1) answers the probe paths on the probed port and serves the Service's port.

import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { resolveK8sConfig, type K8sFlags } from '../../src/k8s/config.js';
import { buildManifests, type K8sObject } from '../../src/k8s/manifests.js';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { BAD, BASE, toArgs, validateObject } from '../k8s/cases.js';
import { fixture, get, runCli, startWarden } from './harness.js';

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `warden k8s ARGS` to completion, its process owned by the test (killed by pid if it outlives it). */
async function runK8s(t: TestContext, args: string[]): Promise<Outcome> {
  const { code, stdout, stderr } = await runCli(t, ['k8s', ...args]);
  return { code, stdout, stderr };
}

function parseYaml(text: string): Record<string, unknown>[] {
  const documents = parseAllDocuments(text);
  assert.ok(Array.isArray(documents), 'a document stream');
  return documents.map((document, index) => {
    assert.deepEqual(document.errors, [], `document ${index} parses`);
    return document.toJS() as Record<string, unknown>;
  });
}

const PRESETS: [string, K8sFlags][] = [
  ['single-worker', { max: '10' }],
  ['multi-worker', { mode: 'multi-worker', workers: '2', minReady: '50%', serviceMonitor: true }],
];

for (const [name, flags] of PRESETS) {
  test(`warden k8s (${name}) prints multi-document YAML that parses, validates, and is exactly what the builders made`, async (t) => {
    const outcome = await runK8s(t, toArgs({ ...BASE, ...flags }));
    assert.equal(outcome.code, 0, outcome.stderr);
    const objects = parseYaml(outcome.stdout);
    for (const object of objects) assert.doesNotThrow(() => validateObject(object), `${String(object.kind)} validates`);
    assert.deepEqual(objects, JSON.parse(JSON.stringify(buildManifests(resolveK8sConfig({ ...BASE, ...flags })))));
    assert.deepEqual(objects.map((object) => object.kind), ['Service', 'Deployment', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', ...(flags.serviceMonitor ? ['ServiceMonitor'] : [])].filter((kind) => kind !== 'HorizontalPodAutoscaler' || flags.max !== undefined));
  });

  test(`${name}: warden started with the container's arguments serves the probe paths on the probed port and the app on the Service's port`, async (t) => {
    const outcome = await runK8s(t, toArgs({ ...BASE, ...flags, module: fixture('slow.mjs') }));
    assert.equal(outcome.code, 0, outcome.stderr);
    const objects = parseYaml(outcome.stdout) as unknown as K8sObject[];
    const deployment = objects.find((object) => object.kind === 'Deployment') as Extract<K8sObject, { kind: 'Deployment' }>;
    const service = objects.find((object) => object.kind === 'Service') as Extract<K8sObject, { kind: 'Service' }>;
    const container = deployment.spec?.template.spec?.containers[0] as IContainer;
    const args = container.args ?? [];
    assert.deepEqual(args.slice(0, 2), ['warden', 'serve']);
    const portByName = new Map((container.ports ?? []).map((port) => [port.name, port.containerPort]));

    // The same arguments, on 127.0.0.1 and port 0 so the test binds nothing public and clashes with nothing.
    const swapped = args.slice(2).map((arg, index, all) => {
      const flag = all[index - 1];
      if (flag === '--host' || flag === '--admin-host') return '127.0.0.1';
      if (flag === '--port' || flag === '--admin-port') return '0';
      return arg;
    });
    const portFlags = new Map<number, string>();
    for (const [index, arg] of args.entries()) if (arg === '--port' || arg === '--admin-port') portFlags.set(Number(args[index + 1]), arg);
    const warden = await startWarden(t, swapped, { waitReady: false });
    // The real port warden bound for each container port, found through the flag that set it.
    const bound = (containerPort: number | undefined) => (portFlags.get(containerPort as number) === '--admin-port' ? warden.adminPort : portFlags.get(containerPort as number) === '--port' ? warden.port : undefined);

    const probes = [['startupProbe', container.startupProbe], ['readinessProbe', container.readinessProbe], ['livenessProbe', container.livenessProbe]] as const;
    for (const [probeName, probe] of probes) {
      const namedPort = probe?.httpGet?.port;
      const port = bound(portByName.get(String(namedPort)));
      assert.ok(port !== undefined, `${probeName} port "${String(namedPort)}" is a container port warden was told to listen on`);
      const deadline = Date.now() + 20_000;
      let answer = { status: 0, body: '' };
      while (Date.now() < deadline) {
        answer = await get(port, probe?.httpGet?.path ?? '/');
        if (answer.status === 200) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(answer.status, 200, `${probeName} GET ${probe?.httpGet?.path} answers 200 once workers are ready`);
      // The app answers any path too: the body shows the answer came from warden's primary, not the app.
      assert.ok('phase' in (JSON.parse(answer.body) as object), `${probeName} is answered by warden's health endpoint: ${answer.body}`);
    }
    for (const servicePort of service.spec?.ports ?? []) {
      const port = bound(portByName.get(String(servicePort.targetPort)));
      assert.ok(port !== undefined, `Service port ${servicePort.name} reaches a port warden listens on`);
      const path = servicePort.name === 'admin' ? '/workers' : '/';
      assert.equal((await get(port, path)).status, 200, `GET ${path} through Service port ${servicePort.name}`);
    }
    const workerCount = (await warden.workers()).workers.length;
    assert.equal(String(workerCount), args[args.indexOf('--workers') + 1], 'warden runs the worker count the manifest asks for');
  });
}

for (const [name, flags, message] of BAD) {
  test(`warden k8s with ${name}: exit 2 and a message naming the flag`, async (t) => {
    const outcome = await runK8s(t, toArgs({ ...BASE, ...flags }));
    assert.equal(outcome.code, 2, `exit 2; stderr: ${outcome.stderr}`);
    assert.equal(outcome.stdout, '', 'no YAML on stdout');
    assert.match(outcome.stderr.replace(/^warden: /, ''), message);
    assert.match(outcome.stderr, /^warden: /);
  });
}
