// `warden k8s` builders, pure: every object validates against the Kubernetes object schemas
// (kubernetes-models), the pieces agree with each other (probe ports, grace periods, startup window,
// memory sizing against warden's own rule), both presets, and every bad input is refused by flag.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { workersThatFit } from '../../src/config/memory.js';
import { PRIMARY_MEMORY_BYTES, resolveK8sConfig, type K8sFlags } from '../../src/k8s/config.js';
import { buildManifests, type K8sObject } from '../../src/k8s/manifests.js';
import { parseQuantity, quantityProblem } from '../../src/k8s/quantity.js';
import { isWardenError } from '../../src/errors.js';
import { BAD, BASE, validateObject } from './cases.js';


function manifests(flags: K8sFlags = {}): K8sObject[] {
  return buildManifests(resolveK8sConfig({ ...BASE, ...flags }));
}

function find<K extends K8sObject['kind']>(objects: K8sObject[], kind: K): Extract<K8sObject, { kind: K }> | undefined {
  return objects.find((object) => object.kind === kind) as Extract<K8sObject, { kind: K }> | undefined;
}

function containerOf(objects: K8sObject[]) {
  const container = find(objects, 'Deployment')?.spec?.template.spec?.containers[0];
  assert.ok(container !== undefined, 'the Deployment has a container');
  return container;
}

function argValue(args: readonly string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index === -1 ? undefined : args[index + 1];
}

const PRESETS: [string, K8sFlags][] = [
  ['single-worker defaults', {}],
  ['single-worker with an autoscaler, limits and a namespace', { min: '4', max: '20', cpuTarget: '60', cpu: '200m', memory: '256Mi', cpuLimit: '1', memoryLimit: '512Mi', namespace: 'shop' }],
  ['multi-worker defaults', { mode: 'multi-worker' }],
  ['multi-worker auto with a CPU limit, metrics annotations', { mode: 'multi-worker', workers: 'auto', cpuLimit: '3', metrics: true }],
  ['multi-worker with a ServiceMonitor and no preStop pause', { mode: 'multi-worker', workers: '6', memoryPerWorker: '1Gi', minReady: '4', serviceMonitor: true, preStop: '0' }],
];

for (const [name, flags] of PRESETS) {
  test(`${name}: every object validates against its Kubernetes schema`, () => {
    const objects = manifests(flags);
    assert.ok(objects.length >= 3);
    for (const object of objects) assert.doesNotThrow(() => validateObject(object), `${object.kind} validates`);
  });

  test(`${name}: probes and Service point at ports the container declares, with the numbers warden is given`, () => {
    const objects = manifests(flags);
    const container = containerOf(objects);
    const ports = new Map((container.ports ?? []).map((port) => [port.name, port.containerPort]));
    const args = container.args ?? [];
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
      const port = probe?.httpGet?.port;
      assert.ok(typeof port === 'string' && ports.has(port), `probe port ${String(port)} is a named container port`);
      assert.equal(String(ports.get(port)), argValue(args, '--admin-port'), 'the probes reach the admin port warden listens on');
    }
    assert.equal(container.livenessProbe?.httpGet?.path, '/livez');
    assert.equal(container.readinessProbe?.httpGet?.path, '/readyz');
    assert.equal(String(ports.get('http')), argValue(args, '--port'));
    assert.equal(argValue(args, '--host'), '0.0.0.0');
    assert.equal(argValue(args, '--admin-host'), '0.0.0.0');
    for (const servicePort of find(objects, 'Service')?.spec?.ports ?? []) {
      assert.ok(ports.has(String(servicePort.targetPort)), `Service targetPort ${String(servicePort.targetPort)} exists`);
    }
  });

  test(`${name}: the grace period outlasts the preStop pause plus warden's graceful timeout, and startup outlasts the boot timeout`, () => {
    const objects = manifests(flags);
    const spec = find(objects, 'Deployment')?.spec?.template.spec;
    const container = containerOf(objects);
    const graceful = Number(argValue(container.args ?? [], '--graceful-timeout'));
    const boot = Number(argValue(container.args ?? [], '--boot-timeout'));
    const preStop = Number(container.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
    assert.ok((spec?.terminationGracePeriodSeconds ?? 0) > preStop + graceful, `grace ${spec?.terminationGracePeriodSeconds} > ${preStop} + ${graceful}`);
    const startup = container.startupProbe;
    assert.ok((startup?.failureThreshold ?? 0) * (startup?.periodSeconds ?? 0) > boot, 'the startupProbe waits longer than --boot-timeout');
    assert.equal(find(objects, 'Deployment')?.spec?.strategy?.rollingUpdate?.maxUnavailable, 0);
    assert.equal(container.securityContext?.runAsNonRoot, true);
    assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
  });

  test(`${name}: the memory limit holds the workers by warden's own rule (80% of the limit, less the primary)`, () => {
    const config = resolveK8sConfig({ ...BASE, ...flags });
    const limit = parseQuantity(config.resources.limits.memory) as number;
    const fit = workersThatFit({ cpuCount: config.sizedWorkers, limitBytes: limit, primaryRssBytes: PRIMARY_MEMORY_BYTES, workerRssBytes: config.memoryPerWorkerBytes });
    if (flags.memory === undefined) assert.equal(fit.workers, config.sizedWorkers, fit.reason);
    assert.ok(parseQuantity(config.resources.requests.memory) as number <= limit);
  });
}

test('a grace period check that would catch a short one: 30 s drain + 5 s pause -> 40 s; 90 s drain -> 100 s', () => {
  assert.equal(find(manifests(), 'Deployment')?.spec?.template.spec?.terminationGracePeriodSeconds, 40);
  assert.equal(find(manifests({ gracefulTimeout: '90' }), 'Deployment')?.spec?.template.spec?.terminationGracePeriodSeconds, 100);
  assert.equal(find(manifests({ gracefulTimeout: '2.5', preStop: '0' }), 'Deployment')?.spec?.template.spec?.terminationGracePeriodSeconds, 8);
});

test('single-worker preset: one worker, replicas carry the scale, no --min-ready', () => {
  const objects = manifests();
  const args = containerOf(objects).args ?? [];
  assert.equal(argValue(args, '--workers'), '1');
  assert.equal(argValue(args, '--min-ready'), undefined);
  assert.equal(find(objects, 'Deployment')?.spec?.replicas, 2);
  assert.equal(find(objects, 'HorizontalPodAutoscaler'), undefined);
  assert.deepEqual(containerOf(objects).resources, { requests: { cpu: '250m', memory: '320Mi' }, limits: { memory: '320Mi' } }, '(64Mi + 192Mi) / 0.8');
});

test('multi-worker preset: 4 workers, --min-ready 50%, memory sized per worker: (64Mi + 4 × 192Mi) / 0.8 = 1040Mi, CPU 4 × 250m', () => {
  const objects = manifests({ mode: 'multi-worker' });
  const container = containerOf(objects);
  assert.equal(argValue(container.args ?? [], '--workers'), '4');
  assert.equal(argValue(container.args ?? [], '--min-ready'), '50%');
  assert.deepEqual(container.resources?.requests, { cpu: '1000m', memory: '1040Mi' });
  assert.deepEqual(container.resources?.limits, { memory: '1040Mi' });
});

test('multi-worker auto is sized for the CPU limit rounded up (2.5 CPUs -> 3 workers)', () => {
  const config = resolveK8sConfig({ ...BASE, mode: 'multi-worker', workers: 'auto', cpuLimit: '2500m', memoryPerWorker: '256Mi' });
  assert.equal(config.workers, 'auto');
  assert.equal(config.sizedWorkers, 3);
  assert.equal(config.resources.limits.memory, `${Math.ceil((64 + 3 * 256) / 0.8)}Mi`);
  assert.equal(config.resources.limits.cpu, '2500m');
});

test('with --max: a CPU HorizontalPodAutoscaler owns the replica count (no replicas in the Deployment)', () => {
  const objects = manifests({ min: '4', max: '20', cpuTarget: '70' });
  const hpa = find(objects, 'HorizontalPodAutoscaler');
  assert.equal(hpa?.spec?.minReplicas, 4);
  assert.equal(hpa?.spec?.maxReplicas, 20);
  assert.equal(hpa?.spec?.metrics?.[0]?.resource?.target.averageUtilization, 70);
  assert.equal(hpa?.spec?.scaleTargetRef.name, 'my-app');
  assert.equal(find(objects, 'Deployment')?.spec?.replicas, undefined);
  assert.ok(containerOf(objects).resources?.requests?.cpu !== undefined, 'utilisation needs a CPU request');
});

test('--metrics adds scrape annotations for /metrics on the admin port; --service-monitor a ServiceMonitor through the Service', () => {
  const annotated = find(manifests({ metrics: true, adminPort: '9100' }), 'Deployment')?.spec?.template.metadata?.annotations;
  assert.deepEqual(annotated, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9100', 'prometheus.io/path': '/metrics' });
  const objects = manifests({ serviceMonitor: true });
  const monitor = find(objects, 'ServiceMonitor');
  assert.equal(monitor?.spec.endpoints?.[0]?.port, 'admin');
  assert.equal(monitor?.spec.endpoints?.[0]?.path, '/metrics');
  assert.ok(find(objects, 'Service')?.spec?.ports?.some((port) => port.name === 'admin'));
  assert.equal(find(manifests(), 'ServiceMonitor'), undefined);
  assert.ok(!find(manifests(), 'Service')?.spec?.ports?.some((port) => port.name === 'admin'), 'no admin port in the Service by default');
});

test('--namespace lands on every object', () => {
  for (const object of manifests({ namespace: 'shop', max: '5', serviceMonitor: true })) assert.equal(object.metadata?.namespace, 'shop', object.kind);
});

test('the schema validation used here does reject a broken object', () => {
  const broken = structuredClone(find(manifests(), 'Deployment')) as unknown as { spec: { template: { spec: { containers: { resources: { limits: Record<string, string> } }[] } } } };
  const first = broken.spec.template.spec.containers[0];
  assert.ok(first !== undefined);
  first.resources.limits.memory = '12XB';
  assert.throws(() => validateObject(broken as unknown as Record<string, unknown>), /memory/);
});

test('quantities: the API server grammar, and the ones that are valid but wrong for memory', () => {
  assert.equal(parseQuantity('256Mi'), 256 * 2 ** 20);
  assert.equal(parseQuantity('1G'), 1e9);
  assert.equal(parseQuantity('129e6'), 129e6);
  assert.equal(parseQuantity('200m'), 0.2);
  assert.equal(parseQuantity('12XB'), undefined);
  assert.equal(parseQuantity('-1'), undefined);
  assert.match(quantityProblem('256m', 'memory') ?? '', /thousandths of a byte/);
  assert.match(quantityProblem('256', 'memory') ?? '', /at least 1Mi/);
  assert.equal(quantityProblem('0.5', 'cpu'), undefined);
});

for (const [name, flags, message] of BAD) {
  test(`bad input refused: ${name}`, () => {
    assert.throws(() => resolveK8sConfig({ ...BASE, ...flags }), (error: unknown) => {
      assert.ok(isWardenError(error), 'a WardenError');
      assert.ok(error.code === 'WARDEN_USAGE' || error.code === 'WARDEN_CONFIG', error.code);
      assert.match(error.message, message);
      return true;
    });
  });
}

