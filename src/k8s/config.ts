// `warden k8s` flags -> a checked K8sConfig: every value validated once, each error naming the flag,
// the rule and the value; presets (single-worker, multi-worker) filled in; sizes derived with the same
// memory rule `--workers auto` uses inside the pod. Pure: no I/O.

import { WardenError } from '../errors.js';
import { MEMORY_HEADROOM } from '../config/memory.js';
import { mebibytes, millicores, parseQuantity, quantityProblem, type QuantityKind } from './quantity.js';

export const MODES = ['single-worker', 'multi-worker'] as const;
export type Mode = (typeof MODES)[number];

/** Memory the primary itself needs: a warden primary measured about 60 MB RSS (docs/kubernetes.md). */
export const PRIMARY_MEMORY_BYTES = 64 * 2 ** 20;

export const K8S_DEFAULTS = {
  mode: 'single-worker' as Mode,
  replicas: 2,
  min: 2,
  cpuTargetPercent: 70,
  multiWorkers: 4,
  multiMinReady: '50%',
  cpuPerWorker: 0.25,
  memoryPerWorker: '192Mi',
  port: 8000,
  adminPort: 9000,
  gracefulTimeoutS: 30,
  bootTimeoutS: 30,
  preStopS: 5,
  module: 'app.js',
};

/** Seconds the kubelet waits after warden's own graceful timeout before SIGKILL. */
export const GRACE_MARGIN_S = 5;

export interface K8sFlags {
  name?: string;
  image?: string;
  mode?: string;
  workers?: string;
  replicas?: string;
  min?: string;
  max?: string;
  cpuTarget?: string;
  cpu?: string;
  memory?: string;
  cpuLimit?: string;
  memoryLimit?: string;
  memoryPerWorker?: string;
  minReady?: string;
  port?: string;
  adminPort?: string;
  gracefulTimeout?: string;
  bootTimeout?: string;
  preStop?: string;
  module?: string;
  namespace?: string;
  metrics?: boolean;
  serviceMonitor?: boolean;
}

export interface K8sConfig {
  name: string;
  image: string;
  namespace: string | undefined;
  mode: Mode;
  /** What the pod's `warden serve --workers` gets. */
  workers: number | 'auto';
  /** The worker count the resources are sized for (`auto`: the CPU limit, rounded up). */
  sizedWorkers: number;
  minReady: string | undefined;
  /** A fixed pod count, or undefined when an autoscaler owns it. */
  replicas: number | undefined;
  autoscale: { min: number; max: number; cpuTargetPercent: number } | undefined;
  resources: { requests: { cpu: string; memory: string }; limits: { cpu?: string; memory: string } };
  memoryPerWorkerBytes: number;
  port: number;
  adminPort: number;
  gracefulTimeoutS: number;
  bootTimeoutS: number;
  preStopS: number;
  module: string;
  metrics: boolean;
  serviceMonitor: boolean;
}

function usage(flag: string, rule: string, raw: string, hint?: string): WardenError {
  return new WardenError('WARDEN_USAGE', `${flag} must be ${rule} (got "${raw}")`, hint === undefined ? {} : { hint });
}

function conflict(message: string, hint: string): WardenError {
  return new WardenError('WARDEN_CONFIG', message, { hint });
}

// RFC 1123/1035 label: what a Service name and a label value must be.
const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

function dnsLabel(flag: string, raw: string): string {
  if (!DNS_LABEL.test(raw)) throw usage(flag, 'a DNS label: lowercase letters, digits and "-", starting with a letter, at most 63 characters', raw);
  return raw;
}

function integer(flag: string, raw: string, min: number, max: number): number {
  const text = raw.trim();
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw usage(flag, min === 0 ? `a whole number from 0 to ${max}` : `a whole number from ${min} to ${max}`, raw);
  }
  return Number(text);
}

function secondsValue(flag: string, raw: string): number {
  const value = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0 || value > 86_400) throw usage(flag, 'a number of seconds above 0', raw);
  return value;
}

function quantity(flag: string, raw: string, kind: QuantityKind): string {
  const text = raw.trim();
  const problem = quantityProblem(text, kind);
  if (problem !== undefined) throw usage(flag, problem, raw);
  return text;
}

function value(raw: string): number {
  return parseQuantity(raw) as number;
}

function parseMode(raw: string | undefined): Mode {
  if (raw === undefined) return K8S_DEFAULTS.mode;
  const mode = MODES.find((name) => name === raw.trim());
  if (mode === undefined) throw usage('--mode', MODES.map((name) => `"${name}"`).join(' or '), raw);
  return mode;
}

function parseMinReady(raw: string, workers: number | 'auto', sizedWorkers: number): string {
  const text = raw.trim().toLowerCase();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (text === 'all' || (percent !== null && Number(percent[1]) > 0 && Number(percent[1]) <= 100)) return text;
  if (/^\d+$/.test(text) && Number(text) >= 1) {
    if (workers === 'auto') throw conflict(`--min-ready ${text} is a fixed count, but --workers auto may start fewer workers`, 'give --min-ready as a percentage, e.g. --min-ready 50%');
    if (Number(text) > sizedWorkers) throw conflict(`--min-ready ${text} is more than --workers ${sizedWorkers}`, 'lower --min-ready or raise --workers');
    return text;
  }
  throw usage('--min-ready', '"all", a number of workers (at least 1), or a percentage such as "50%"', raw);
}

export function resolveK8sConfig(flags: K8sFlags): K8sConfig {
  if (flags.name === undefined || flags.name.trim() === '') {
    throw new WardenError('WARDEN_USAGE', '--name is required: the name of the Deployment, Service and the rest', { hint: 'e.g. warden k8s --name my-app --image registry.example/my-app:1.2.3' });
  }
  if (flags.image === undefined || flags.image.trim() === '') {
    throw new WardenError('WARDEN_USAGE', '--image is required: the container image that holds your app and warden', { hint: 'e.g. --image registry.example/my-app:1.2.3 (examples/Dockerfile builds one)' });
  }
  const name = dnsLabel('--name', flags.name.trim());
  const image = flags.image.trim();
  if (/\s/.test(image)) throw usage('--image', 'an image reference without spaces, such as registry.example/my-app:1.2.3', flags.image);
  const namespace = flags.namespace === undefined ? undefined : dnsLabel('--namespace', flags.namespace.trim());
  const mode = parseMode(flags.mode);

  const cpuLimit = flags.cpuLimit === undefined ? undefined : quantity('--cpu-limit', flags.cpuLimit, 'cpu');
  let workers: number | 'auto';
  if (flags.workers === undefined) workers = mode === 'single-worker' ? 1 : K8S_DEFAULTS.multiWorkers;
  else if (flags.workers.trim().toLowerCase() === 'auto') workers = 'auto';
  else workers = integer('--workers', flags.workers, 1, 1024);
  if (mode === 'single-worker' && workers !== 1) {
    throw conflict(`--mode single-worker runs one worker per pod, but --workers is ${workers}`, 'drop --workers, or use --mode multi-worker for several workers per pod');
  }
  if (workers === 'auto' && cpuLimit === undefined) {
    throw conflict('--workers auto needs --cpu-limit: without a CPU limit, warden in the pod would start one worker per CPU of the node', 'give --cpu-limit (e.g. --cpu-limit 4), or a fixed --workers N');
  }
  const sizedWorkers = workers === 'auto' ? Math.max(1, Math.ceil(value(cpuLimit as string))) : workers;
  const minReady = flags.minReady !== undefined
    ? parseMinReady(flags.minReady, workers, sizedWorkers)
    : mode === 'multi-worker' ? K8S_DEFAULTS.multiMinReady : undefined;

  const hasAutoscaler = flags.max !== undefined;
  if (!hasAutoscaler && flags.min !== undefined) throw conflict('--min needs --max: together they turn on the HorizontalPodAutoscaler', 'add --max, e.g. --min 2 --max 10');
  if (!hasAutoscaler && flags.cpuTarget !== undefined) throw conflict('--cpu-target needs --max: it is the HorizontalPodAutoscaler\'s target', 'add --max, e.g. --max 10 --cpu-target 70');
  if (hasAutoscaler && flags.replicas !== undefined) throw conflict('--replicas and --max both set the pod count', 'use --replicas N for a fixed count, or --min/--max for an autoscaler');
  const replicas = hasAutoscaler ? undefined : flags.replicas === undefined ? K8S_DEFAULTS.replicas : integer('--replicas', flags.replicas, 0, 10_000);
  let autoscale: K8sConfig['autoscale'];
  if (hasAutoscaler) {
    const min = flags.min === undefined ? K8S_DEFAULTS.min : integer('--min', flags.min, 1, 10_000);
    const max = integer('--max', flags.max as string, 1, 10_000);
    if (min > max) throw conflict(`--min ${min} is more than --max ${max}`, 'lower --min or raise --max');
    const cpuTargetPercent = flags.cpuTarget === undefined ? K8S_DEFAULTS.cpuTargetPercent : integer('--cpu-target', flags.cpuTarget, 1, 100);
    autoscale = { min, max, cpuTargetPercent };
  }

  const memoryPerWorker = quantity('--memory-per-worker', flags.memoryPerWorker ?? K8S_DEFAULTS.memoryPerWorker, 'memory');
  const memoryPerWorkerBytes = value(memoryPerWorker);
  // The same rule as `--workers auto` in the pod: the primary and the workers use at most 80 % of
  // the limit, so a pod sized here is one in which warden's own check finds that the workers fit.
  const sizedMemory = mebibytes((PRIMARY_MEMORY_BYTES + sizedWorkers * memoryPerWorkerBytes) / MEMORY_HEADROOM);
  const memory = flags.memory === undefined ? sizedMemory : quantity('--memory', flags.memory, 'memory');
  const memoryLimit = flags.memoryLimit === undefined ? memory : quantity('--memory-limit', flags.memoryLimit, 'memory');
  if (value(memoryLimit) < value(memory)) throw conflict(`--memory-limit ${memoryLimit} is below the --memory request ${memory}`, 'Kubernetes requires the limit to be at least the request');
  const cpu = flags.cpu === undefined ? millicores(sizedWorkers * K8S_DEFAULTS.cpuPerWorker) : quantity('--cpu', flags.cpu, 'cpu');
  if (cpuLimit !== undefined && value(cpuLimit) < value(cpu)) throw conflict(`--cpu-limit ${cpuLimit} is below the --cpu request ${cpu}`, 'Kubernetes requires the limit to be at least the request');

  const port = integer('--port', flags.port ?? String(K8S_DEFAULTS.port), 1, 65535);
  const adminPort = integer('--admin-port', flags.adminPort ?? String(K8S_DEFAULTS.adminPort), 1, 65535);
  if (port === adminPort) throw conflict(`--port and --admin-port are both ${port}`, 'give the admin server its own port, e.g. --admin-port 9000');
  const module = (flags.module ?? K8S_DEFAULTS.module).trim();
  if (module === '' || /\s/.test(module)) throw usage('--module', 'the path of your app module inside the image, such as app.js or dist/server.js', flags.module ?? '');

  return {
    name, image, namespace, mode, workers, sizedWorkers, minReady, replicas, autoscale,
    resources: { requests: { cpu, memory }, limits: { ...(cpuLimit === undefined ? {} : { cpu: cpuLimit }), memory: memoryLimit } },
    memoryPerWorkerBytes,
    port, adminPort,
    gracefulTimeoutS: flags.gracefulTimeout === undefined ? K8S_DEFAULTS.gracefulTimeoutS : secondsValue('--graceful-timeout', flags.gracefulTimeout),
    bootTimeoutS: flags.bootTimeout === undefined ? K8S_DEFAULTS.bootTimeoutS : secondsValue('--boot-timeout', flags.bootTimeout),
    preStopS: flags.preStop === undefined ? K8S_DEFAULTS.preStopS : integer('--pre-stop', flags.preStop, 0, 3600),
    module,
    metrics: flags.metrics === true || flags.serviceMonitor === true,
    serviceMonitor: flags.serviceMonitor === true,
  };
}
