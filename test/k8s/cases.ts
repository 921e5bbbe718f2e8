// Shared by the pure `warden k8s` tests and the CLI tests: the base flags, every bad input with the
// message that must name its flag, and schema validation of an object by its kind (kubernetes-models).

import assert from 'node:assert/strict';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Service } from 'kubernetes-models/v1/Service';
import type { K8sFlags } from '../../src/k8s/config.js';
import type { K8sObject } from '../../src/k8s/manifests.js';

export const BASE: K8sFlags = { name: 'my-app', image: 'registry.example/my-app:1.2.3' };

// Each bad input: which flag, and the exit code family (usage or conflicting settings: both exit 2).
export const BAD: [string, K8sFlags, RegExp][] = [
  ['no --name', { name: undefined }, /^--name is required/],
  ['no --image', { image: undefined }, /^--image is required/],
  ['--name with capitals', { name: 'My_App' }, /^--name must be a DNS label.*\(got "My_App"\)/],
  ['--memory 12XB', { memory: '12XB' }, /^--memory must be a Kubernetes quantity: bytes with a unit.*\(got "12XB"\)/],
  ['--memory 256m', { memory: '256m' }, /^--memory must be .*thousandths of a byte.*\(got "256m"\)/],
  ['--cpu 2 cores', { cpu: '2 cores' }, /^--cpu must be a Kubernetes quantity: CPUs/],
  ['--cpu-limit 0', { cpuLimit: '0' }, /^--cpu-limit must be above 0/],
  ['--memory-limit below --memory', { memory: '512Mi', memoryLimit: '256Mi' }, /^--memory-limit 256Mi is below the --memory request 512Mi/],
  ['--cpu-limit below --cpu', { cpu: '2', cpuLimit: '1' }, /^--cpu-limit 1 is below the --cpu request 2/],
  ['--min above --max', { min: '5', max: '3' }, /^--min 5 is more than --max 3/],
  ['--min without --max', { min: '2' }, /^--min needs --max/],
  ['--cpu-target without --max', { cpuTarget: '70' }, /^--cpu-target needs --max/],
  ['--cpu-target 150', { max: '4', cpuTarget: '150' }, /^--cpu-target must be a whole number from 1 to 100/],
  ['--replicas with --max', { replicas: '3', max: '4' }, /^--replicas and --max both set the pod count/],
  ['--replicas -1', { replicas: '-1' }, /^--replicas must be a whole number from 0 to 10000 \(got "-1"\)/],
  ['--max 0', { max: '0' }, /^--max must be a whole number from 1/],
  ['--workers -2', { mode: 'multi-worker', workers: '-2' }, /^--workers must be a whole number from 1 to 1024 \(got "-2"\)/],
  ['--mode both', { mode: 'both' }, /^--mode must be "single-worker" or "multi-worker" \(got "both"\)/],
  ['--workers 3 in single-worker mode', { workers: '3' }, /^--mode single-worker runs one worker per pod, but --workers is 3/],
  ['--workers auto without --cpu-limit', { mode: 'multi-worker', workers: 'auto' }, /^--workers auto needs --cpu-limit/],
  ['--min-ready 5 with 4 workers', { mode: 'multi-worker', minReady: '5' }, /^--min-ready 5 is more than --workers 4/],
  ['--port 70000', { port: '70000' }, /^--port must be a whole number from 1 to 65535/],
  ['--port equal to --admin-port', { port: '9000' }, /^--port and --admin-port are both 9000/],
  ['--graceful-timeout 0', { gracefulTimeout: '0' }, /^--graceful-timeout must be a number of seconds above 0/],
  ['--namespace Prod', { namespace: 'Prod' }, /^--namespace must be a DNS label/],
];


/** The same flags as `warden k8s` command-line arguments ({ cpuLimit: '1' } -> --cpu-limit 1). */
export function toArgs(flags: K8sFlags): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(flags)) {
    if (value === undefined || value === false) continue;
    const flag = `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
    args.push(...(value === true ? [flag] : [flag, String(value)]));
  }
  return args;
}

/** Validate with the schema of the object's own kind; throws naming the failing field. */
export function validateObject(object: K8sObject | Record<string, unknown>): void {
  const kinds: Record<string, (data: never) => { validate(): void }> = {
    Deployment: (data) => new Deployment(data),
    Service: (data) => new Service(data),
    PodDisruptionBudget: (data) => new PodDisruptionBudget(data),
    HorizontalPodAutoscaler: (data) => new HorizontalPodAutoscaler(data),
    ServiceMonitor: (data) => new ServiceMonitor(data),
  };
  const make = kinds[String(object.kind)];
  assert.ok(make !== undefined, `a schema for kind ${String(object.kind)}`);
  make(object as never).validate();
}

