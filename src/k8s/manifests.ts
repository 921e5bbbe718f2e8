// Pure builders: K8sConfig -> the Kubernetes objects that run an app under warden (Deployment,
// Service, PodDisruptionBudget, HorizontalPodAutoscaler, ServiceMonitor). No I/O and no YAML here:
// the CLI serialises at the edge. Types come from kubernetes-models, so a misspelt field fails to build.

import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IService } from 'kubernetes-models/v1/Service';
import { GRACE_MARGIN_S, type K8sConfig } from './config.js';

export type K8sObject = IDeployment | IService | IPodDisruptionBudget | IHorizontalPodAutoscaler | IServiceMonitor;

/** The uid of the `node` user in the official Node.js images, which examples/Dockerfile runs as. */
export const RUN_AS_USER = 1000;
export const STARTUP_PERIOD_S = 2;
/** Time for the primary itself to start before the boot timeout of its first worker begins. */
export const STARTUP_MARGIN_S = 10;
export const HTTP_PORT_NAME = 'http';
export const ADMIN_PORT_NAME = 'admin';
export const LIVENESS_PATH = '/livez';
export const READINESS_PATH = '/readyz';
export const METRICS_PATH = '/metrics';

function labels(config: K8sConfig): Record<string, string> {
  return { 'app.kubernetes.io/name': config.name, 'app.kubernetes.io/managed-by': 'warden' };
}

function selector(config: K8sConfig): Record<string, string> {
  return { 'app.kubernetes.io/name': config.name };
}

function metadata(config: K8sConfig) {
  return { name: config.name, ...(config.namespace === undefined ? {} : { namespace: config.namespace }), labels: labels(config) };
}

/** kubelet's SIGKILL deadline: the preStop pause, then warden's own drain, then a margin. */
export function terminationGracePeriodSeconds(config: Pick<K8sConfig, 'preStopS' | 'gracefulTimeoutS'>): number {
  return Math.ceil(config.preStopS + config.gracefulTimeoutS + GRACE_MARGIN_S);
}

/** `warden serve …` as the container runs it. */
export function serveArgs(config: K8sConfig): string[] {
  return [
    'warden', 'serve', config.module,
    '--host', '0.0.0.0', '--port', String(config.port),
    '--admin-host', '0.0.0.0', '--admin-port', String(config.adminPort),
    '--workers', String(config.workers),
    ...(config.minReady === undefined ? [] : ['--min-ready', config.minReady]),
    '--graceful-timeout', String(config.gracefulTimeoutS),
    '--boot-timeout', String(config.bootTimeoutS),
    '--log-format', 'json',
  ];
}

function container(config: K8sConfig): IContainer {
  return {
    name: config.name,
    image: config.image,
    // args, not command: the image's ENTRYPOINT (docker-entrypoint.sh, or tini) stays in front.
    args: serveArgs(config),
    ports: [
      { name: HTTP_PORT_NAME, containerPort: config.port, protocol: 'TCP' },
      { name: ADMIN_PORT_NAME, containerPort: config.adminPort, protocol: 'TCP' },
    ],
    env: [{ name: 'NODE_ENV', value: 'production' }],
    resources: { requests: { ...config.resources.requests }, limits: { ...config.resources.limits } },
    startupProbe: {
      httpGet: { path: READINESS_PATH, port: ADMIN_PORT_NAME },
      periodSeconds: STARTUP_PERIOD_S,
      timeoutSeconds: 2,
      failureThreshold: Math.ceil((config.bootTimeoutS + STARTUP_MARGIN_S) / STARTUP_PERIOD_S),
    },
    livenessProbe: {
      httpGet: { path: LIVENESS_PATH, port: ADMIN_PORT_NAME },
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
    readinessProbe: {
      httpGet: { path: READINESS_PATH, port: ADMIN_PORT_NAME },
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 2,
      successThreshold: 1,
    },
    lifecycle: config.preStopS === 0 ? undefined : {
      // Endpoints are removed asynchronously after the pod is marked terminating; the pause keeps
      // warden serving until load balancers have stopped sending, then SIGTERM starts the drain.
      preStop: { exec: { command: ['sleep', String(config.preStopS)] } },
    },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUN_AS_USER,
      runAsGroup: RUN_AS_USER,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    // warden writes nothing to the root filesystem; tsx (TypeScript apps) caches in the temp dir and
    // --heap-snapshot-on-recycle needs a writable directory, so /tmp is an emptyDir.
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
}

export function deployment(config: K8sConfig): IDeployment {
  const annotations = config.metrics && !config.serviceMonitor
    ? { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(config.adminPort), 'prometheus.io/path': METRICS_PATH }
    : undefined;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(config),
    spec: {
      ...(config.replicas === undefined ? {} : { replicas: config.replicas }),
      selector: { matchLabels: selector(config) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: labels(config), ...(annotations === undefined ? {} : { annotations }) },
        spec: {
          terminationGracePeriodSeconds: terminationGracePeriodSeconds(config),
          securityContext: { runAsNonRoot: true, runAsUser: RUN_AS_USER, runAsGroup: RUN_AS_USER, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [container(config)],
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
          topologySpreadConstraints: [{
            maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector(config) },
          }],
        },
      },
    },
  };
}

export function service(config: K8sConfig): IService {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(config),
    spec: {
      type: 'ClusterIP',
      selector: selector(config),
      ports: [
        { name: HTTP_PORT_NAME, port: 80, targetPort: HTTP_PORT_NAME, protocol: 'TCP' },
        // The admin port joins the Service only for a ServiceMonitor, which scrapes through it.
        ...(config.serviceMonitor ? [{ name: ADMIN_PORT_NAME, port: config.adminPort, targetPort: ADMIN_PORT_NAME, protocol: 'TCP' as const }] : []),
      ],
    },
  };
}

export function podDisruptionBudget(config: K8sConfig): IPodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: metadata(config),
    // maxUnavailable rather than minAvailable, so a node drain never blocks whatever the pod count.
    spec: { maxUnavailable: 1, selector: { matchLabels: selector(config) } },
  };
}

export function horizontalPodAutoscaler(config: K8sConfig): IHorizontalPodAutoscaler | undefined {
  if (config.autoscale === undefined) return undefined;
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: metadata(config),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: config.name },
      minReplicas: config.autoscale.min,
      maxReplicas: config.autoscale.max,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: config.autoscale.cpuTargetPercent } } }],
    },
  };
}

export function serviceMonitor(config: K8sConfig): IServiceMonitor | undefined {
  if (!config.serviceMonitor) return undefined;
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: metadata(config),
    spec: {
      selector: { matchLabels: selector(config) },
      endpoints: [{ port: ADMIN_PORT_NAME, path: METRICS_PATH, interval: '15s' }],
    },
  };
}

/** Every object for the config, in the order `kubectl apply` is happy with. */
export function buildManifests(config: K8sConfig): K8sObject[] {
  const objects: (K8sObject | undefined)[] = [
    service(config), deployment(config), podDisruptionBudget(config), horizontalPodAutoscaler(config), serviceMonitor(config),
  ];
  return objects.filter((object): object is K8sObject => object !== undefined);
}
