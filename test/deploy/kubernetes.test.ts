import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/config.ts';
import { GatewayMetrics } from '../../src/metrics/gateway-metrics.ts';
import { parseDockerfile, type DockerStage } from './dockerfile.ts';
import { loadManifests, MANIFEST_DIR, schemaErrors, unknownFieldErrors, type Manifest } from './kubernetes-schema.ts';

/** Peak RSS of the bench process with two blip-base variants at concurrency 16 (issue 12's table: 5.2–7.1 GB). */
const BENCH_PEAK_RSS_BYTES = 7.1e9;

const manifests = loadManifests();

function find(kind: string, name: string): Record<string, any> {
  const found = manifests.filter((m) => m.object.kind === kind && m.object.metadata?.name === name);
  expect(found.map((m) => m.source), `${kind} ${name}`).toHaveLength(1);
  return found[0]!.object;
}

/** Kubernetes quantities as numbers (bytes, cores). */
function quantity(value: string | number): number {
  if (typeof value === 'number') return value;
  const match = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(value);
  if (!match) throw new Error(`not a quantity: ${value}`);
  const units: Record<string, number> = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(match[1]) * (match[2] ? units[match[2]]! : 1);
}

function envOf(container: Record<string, any>): Record<string, string> {
  return Object.fromEntries((container.env ?? []).filter((e: any) => typeof e.value === 'string').map((e: any) => [e.name, e.value]));
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** A broken Deployment, made in memory from the real one. */
function brokenCopy(change: (deployment: Record<string, any>) => void): Manifest {
  const object = structuredClone(find('Deployment', 'blip-gateway'));
  change(object);
  return { source: 'broken-in-memory.yaml', object };
}

describe('deploy/kubernetes: valid against the Kubernetes API schemas', () => {
  const misspelt = brokenCopy((d) => {
    const container = d.spec.template.spec.containers[0];
    container.readinesProbe = container.readinessProbe;
    delete container.readinessProbe;
  });
  let fieldErrors: Map<string, string[]>;
  beforeAll(() => {
    // One compiler run for the real manifests and the misspelt copy (the check takes seconds).
    fieldErrors = unknownFieldErrors([...manifests, misspelt]);
  });

  it('lists exactly the manifest files in kustomization.yaml', () => {
    const kustomization = parseYaml(readFileSync(join(MANIFEST_DIR, 'kustomization.yaml'), 'utf8'));
    expect([...kustomization.resources].sort()).toEqual([...new Set(manifests.map((m) => m.source.split('#')[0]))].sort());
  });

  it('every object passes kubernetes-models validation for its apiVersion and kind', () => {
    expect(manifests.map((m) => `${m.object.apiVersion} ${m.object.kind}`).sort()).toEqual([
      'apps/v1 Deployment',
      'apps/v1 Deployment',
      'autoscaling/v2 HorizontalPodAutoscaler',
      'networking.k8s.io/v1 NetworkPolicy',
      'policy/v1 PodDisruptionBudget',
      'v1 ConfigMap',
      'v1 Service',
      'v1 Service',
    ]);
    for (const manifest of manifests) expect({ source: manifest.source, errors: schemaErrors(manifest.object) }).toEqual({ source: manifest.source, errors: [] });
  });

  it('no object has a field the API does not define', () => {
    for (const manifest of manifests) expect({ source: manifest.source, errors: fieldErrors.get(manifest.source) }).toEqual({ source: manifest.source, errors: [] });
  });

  it('the validation bites: wrong types, missing required fields, bad quantities, misspelt fields and unknown kinds fail', () => {
    expect(schemaErrors(brokenCopy((d) => (d.spec.replicas = 'two')).object)).toEqual(['data/spec/replicas must be integer']);
    expect(schemaErrors(brokenCopy((d) => delete d.spec.template.spec.containers).object)).toEqual(['data/spec/template/spec must have required property containers']);
    expect(schemaErrors(brokenCopy((d) => (d.spec.template.spec.containers[0].resources.limits.memory = '8 GiB')).object)[0]).toContain(
      'data/spec/template/spec/containers/0/resources/limits/memory must match format "quantity"',
    );
    expect(schemaErrors(brokenCopy((d) => (d.spec.template.spec.containers[0].lifecycle.preStop.exec.command = 'sleep 10')).object)[0]).toContain(
      'data/spec/template/spec/containers/0/lifecycle/preStop/exec/command must be array',
    );
    expect(schemaErrors({ ...find('HorizontalPodAutoscaler', 'blip-gateway'), apiVersion: 'autoscaling/v3' })).toEqual([
      'no schema for apiVersion "autoscaling/v3" kind "HorizontalPodAutoscaler" (add it to KINDS)',
    ]);
    // The OpenAPI schema lets unknown fields through; the interface check does not.
    expect(schemaErrors(misspelt.object)).toEqual([]);
    expect(fieldErrors.get(misspelt.source)).toEqual([`Object literal may only specify known properties, and '"readinesProbe"' does not exist in type 'IContainer'.`]);
  });
});

describe('deploy/kubernetes: the gateway Deployment', () => {
  const deployment = find('Deployment', 'blip-gateway');
  const pod = deployment.spec.template.spec;
  const gateway = pod.containers.find((c: any) => c.name === 'gateway');
  const env = envOf(gateway);
  const config = loadConfig(env);
  const dockerfile = parseDockerfile(readFileSync(join(MANIFEST_DIR, '..', '..', 'Dockerfile'), 'utf8'));
  const runtime = dockerfile.stages.at(-1) as DockerStage;

  it('runs the image the Dockerfile builds, as its non-root user, on a read-only root file system', () => {
    for (const container of [...pod.initContainers, ...pod.containers]) {
      expect(container.image).toMatch(/^blip-gateway:\d+\.\d+\.\d+$/);
      expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    }
    const user = runtime.instructions.filter((i) => i.keyword === 'USER').at(-1)?.args;
    expect(user).toBe(`${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
  });

  it('gives the server a writable registry volume, seeded from the image, and a writable /tmp', () => {
    const mounts = new Map(gateway.volumeMounts.map((m: any) => [m.mountPath, m.name]));
    const volumes = new Map(pod.volumes.map((v: any) => [v.name, v]));
    expect(config.registryDir).toBe('/var/lib/blip-gateway/registry');
    for (const path of [config.registryDir, '/tmp']) {
      const volume: any = volumes.get(mounts.get(path));
      expect(volume?.emptyDir ?? volume?.persistentVolumeClaim, path).toBeDefined();
    }
    const seed = pod.initContainers.find((c: any) => c.name === 'seed-registry');
    expect(seed.command).toEqual(['node', '-e', expect.any(String), '/app/registry', config.registryDir]);
    expect(seed.volumeMounts).toEqual([{ name: mounts.get(config.registryDir), mountPath: config.registryDir }]);
    // The image has its prepared registry at /app/registry (WORKDIR /app, the default REGISTRY_DIR).
    expect(runtime.instructions.find((i) => i.keyword === 'WORKDIR')?.args).toBe('/app');
    expect(runtime.instructions.some((i) => i.keyword === 'COPY' && /--from=prepare\b.*\/app\/registry \.\/registry$/.test(i.args))).toBe(true);
  });

  it('seeds the registry volume with what is missing and never rewrites a file (replicas may share the volume)', async () => {
    const seed = pod.initContainers.find((c: any) => c.name === 'seed-registry');
    const [node, flag, script] = seed.command as string[];
    const scratch = await mkdtemp(join(tmpdir(), 'blip-seed-'));
    try {
      const image = join(scratch, 'image-registry');
      const volume = join(scratch, 'volume');
      await mkdir(join(image, 'blip-demo'), { recursive: true });
      await writeFile(join(image, 'blip-demo', 'variant.json'), 'from the image');
      await writeFile(join(image, 'blip-demo', 'model.onnx'), 'new weights');
      await mkdir(join(volume, 'blip-demo'), { recursive: true });
      await mkdir(join(volume, 'blip-base'));
      await writeFile(join(volume, 'blip-demo', 'model.onnx'), 'weights another replica has open');
      await writeFile(join(volume, 'blip-base', 'manifest.json'), 'installed by the operator');
      const run = spawnSync(node === 'node' ? process.execPath : node!, [flag!, script!, image, volume], { encoding: 'utf8' });
      expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
      expect(await readFile(join(volume, 'blip-demo', 'variant.json'), 'utf8')).toBe('from the image');
      expect(await readFile(join(volume, 'blip-demo', 'model.onnx'), 'utf8')).toBe('weights another replica has open');
      expect(await readFile(join(volume, 'blip-base', 'manifest.json'), 'utf8')).toBe('installed by the operator');
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('sets an environment the server accepts, listening on the container port the probes and the Service use', () => {
    expect(config).toMatchObject({ production: true, host: '0.0.0.0', port: 4000, intraOpThreads: 2, shutdownTimeoutMs: 30_000 });
    expect(gateway.ports).toEqual([{ name: 'http', containerPort: config.port, protocol: 'TCP' }]);
    expect(gateway.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(gateway.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(gateway.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    const service = find('Service', 'blip-gateway');
    expect(matches(service.spec.selector, deployment.spec.template.metadata.labels)).toBe(true);
    expect(matches(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
    expect(service.spec.ports[0].targetPort).toBe('http');
    expect(matches(find('PodDisruptionBudget', 'blip-gateway').spec.selector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
  });

  it('stops in order within the grace period: preStop sleep, then the drain window, then requests in flight', () => {
    const command: string[] = gateway.lifecycle.preStop.exec.command;
    expect(command).toEqual(['sleep', expect.stringMatching(/^\d+$/)]);
    const preStopSeconds = Number(command[1]);
    const drainSeconds = Number(env.SHUTDOWN_DRAIN_MS) / 1000;
    expect(preStopSeconds).toBeGreaterThanOrEqual(5);
    expect(drainSeconds).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStopSeconds + drainSeconds + config.shutdownTimeoutMs / 1000);
    // `sleep` must exist in the image: the runtime stage is Debian's node image (coreutils), not a distroless one.
    expect(dockerfile.args.NODE_IMAGE).toMatch(/^node:\d+-bookworm-slim$/);
  });

  it('sizes resources from the benchmark: the memory limit covers the bench peak, the budget fits the request', () => {
    const { requests, limits } = gateway.resources;
    expect(quantity(limits.memory)).toBeGreaterThan(BENCH_PEAK_RSS_BYTES);
    expect(config.models.memoryBudgetBytes).toBeLessThan(quantity(requests.memory));
    // ONNX Runtime's threads match the CPU the container gets (os.cpus() would report the node's cores).
    expect(quantity(requests.cpu)).toBe(config.intraOpThreads);
    expect(quantity(limits.cpu)).toBe(config.intraOpThreads);
    const emptyDirs = pod.volumes.filter((v: any) => v.emptyDir).map((v: any) => quantity(v.emptyDir.sizeLimit));
    expect(emptyDirs.reduce((a: number, b: number) => a + b, 0)).toBeLessThan(quantity(limits['ephemeral-storage']));
  });

  it('reaches Redis through the Redis Service, which only gateway pods may connect to', () => {
    const redisUrl = new URL(env.REDIS_URL!);
    const service = find('Service', redisUrl.hostname);
    expect(service.spec.ports.map((p: any) => p.port)).toContain(Number(redisUrl.port));
    const redis = find('Deployment', 'blip-gateway-redis');
    expect(matches(service.spec.selector, redis.spec.template.metadata.labels)).toBe(true);
    const policy = find('NetworkPolicy', 'blip-gateway-redis');
    expect(matches(policy.spec.podSelector.matchLabels, redis.spec.template.metadata.labels)).toBe(true);
    expect(matches(policy.spec.ingress[0].from[0].podSelector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
    expect(redis.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    expect(redis.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
  });
});

describe('deploy/kubernetes: autoscaling on queue depth', () => {
  const hpa = find('HorizontalPodAutoscaler', 'blip-gateway');
  const adapter = parseYaml(find('ConfigMap', 'blip-gateway-adapter-rules').data['config.yaml']);

  it('scales the gateway Deployment on the per-pod metric the prometheus-adapter rule serves', () => {
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'blip-gateway' });
    expect(hpa.spec.metrics).toHaveLength(1);
    const [metric] = hpa.spec.metrics;
    expect(metric.type).toBe('Pods');
    expect(adapter.rules).toHaveLength(1);
    const [rule] = adapter.rules;
    expect(metric.pods.metric.name).toBe(rule.name.as);
    expect(rule.resources.overrides).toEqual({ namespace: { resource: 'namespace' }, pod: { resource: 'pod' } });
    expect(rule.metricsQuery).toBe('sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)');
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
  });

  it('reads a metric the gateway exports: a gauge per variant, which the rule sums per pod', async () => {
    const [rule] = adapter.rules;
    const series = /^(\w+)\{/.exec(rule.seriesQuery)![1]!;
    expect(new RegExp(rule.name.matches).test(series)).toBe(true);
    const metrics = new GatewayMetrics({
      queueDepths: () => ({ 'blip-demo': 3, 'blip-demo-vqa': 2 }),
      variants: () => [],
      embeddingCacheBytes: async () => ({}),
    });
    const text = await metrics.render();
    expect(text).toContain(`# TYPE ${series} gauge`);
    expect(text).toContain(`${series}{variant="blip-demo"} 3`);
    expect(text).toContain(`${series}{variant="blip-demo-vqa"} 2`);
  });
});
