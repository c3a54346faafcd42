import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { parse } from 'yaml';
import { ENV_KEYS, loadConfig } from '../../../src/config/load.js';
import {
  findKubectl,
  KUSTOMIZE_DIR,
  NO_KUBECTL,
  OVERLAYS,
  podSpecOf,
  renderOverlay,
  type Obj,
} from '../../harness/kustomize.js';

// The manifests cannot be applied here (no cluster); this checks what each
// overlay renders (`kubectl kustomize`, as `kubectl apply -k` would send it):
// no Secret, one workload, the image and the Prefect URL each set once, the
// restricted security context, probes on the real endpoints, and a
// ConfigMap the worker accepts. scripts/k8s-check.sh validates the same
// renders against the Kubernetes API schemas.

const KUBECTL = findKubectl();
const ROOT = join(import.meta.dirname, '../../..');
const rendered: Record<string, Obj[]> = {};

beforeAll(() => {
  if (!KUBECTL) {
    console.warn(`config/kubernetes tests skipped: ${NO_KUBECTL}`);
    return;
  }
  for (const overlay of OVERLAYS) rendered[overlay] = renderOverlay(overlay);
});

function needKubectl(ctx: TestContext): void {
  if (!KUBECTL) ctx.skip(NO_KUBECTL);
}

const ofKind = (docs: Obj[], kind: string) => docs.filter((d) => d.kind === kind);
const workloadOf = (docs: Obj[]) =>
  docs.find((d) => d.kind === 'Deployment' || d.kind === 'CronJob')!;
const allContainers = (pod: Obj): Obj[] => [...(pod.initContainers ?? []), ...pod.containers];
const yamlFile = (path: string) => parse(readFileSync(join(KUSTOMIZE_DIR, path), 'utf8')) as Obj;

function restricted(container: Obj, pod: Obj): void {
  expect(pod.securityContext).toMatchObject({
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  });
  expect(container.securityContext).toMatchObject({
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  });
  expect(container.securityContext.privileged).toBeUndefined();
  expect(container.securityContext.capabilities.add).toBeUndefined();
  expect(container.resources.requests).toBeDefined();
  expect(container.resources.limits).toBeDefined();
}

describe('config/kubernetes', () => {
  it('has the overlays dev, staging, prod and one-shot', () => {
    expect(OVERLAYS).toEqual(['dev', 'one-shot', 'prod', 'staging']);
  });

  describe.each(OVERLAYS)('overlay %s', (overlay) => {
    const docs = () => rendered[overlay]!;

    it('builds no Secret: the Secret is created by hand and referenced by name', (ctx) => {
      needKubectl(ctx);
      expect(ofKind(docs(), 'Secret')).toEqual([]);
      for (const container of allContainers(podSpecOf(workloadOf(docs())))) {
        expect(container.envFrom).toContainEqual({ secretRef: { name: 'connector-sync' } });
      }
    });

    it('runs exactly one of the Deployment and the CronJob', (ctx) => {
      needKubectl(ctx);
      const workloads = docs().filter((d) => d.kind === 'Deployment' || d.kind === 'CronJob');
      expect(workloads.map((w) => w.kind)).toEqual([
        overlay === 'one-shot' ? 'CronJob' : 'Deployment',
      ]);
    });

    it('names the image once: in its kustomization, for every container', (ctx) => {
      needKubectl(ctx);
      const { images } = yamlFile(`overlays/${overlay}/kustomization.yaml`);
      expect(images).toHaveLength(1);
      const [{ name, newName, newTag }] = images;
      expect(name).toBe('connector-sync');
      const pod = podSpecOf(workloadOf(docs()));
      const used = new Set(allContainers(pod).map((c) => c.image));
      expect([...used]).toEqual([`${newName}:${newTag}`]);
      // The base and the components name only the placeholder the overlay replaces.
      const sources = [
        'base/kustomization.yaml',
        'base/deployment.yaml',
        'components/one-shot/cronjob.yaml',
      ];
      for (const file of sources) {
        expect(readFileSync(join(KUSTOMIZE_DIR, file), 'utf8'), file).not.toContain(newName);
      }
      expect(yamlFile('base/kustomization.yaml').images).toBeUndefined();
    });

    it('sets PREFECT_API_URL once: one generated ConfigMap every container takes', (ctx) => {
      needKubectl(ctx);
      const holding = ofKind(docs(), 'ConfigMap').filter((c) => 'PREFECT_API_URL' in c.data);
      expect(holding).toHaveLength(1);
      const [envMap] = holding;
      const url = envMap!.data.PREFECT_API_URL as string;
      expect(url).toMatch(/^https?:\/\/[^/]+\/api$/);
      // Said nowhere else: not in any container's env, not in the config file.
      const text = JSON.stringify(docs());
      expect(text.split(url).length - 1).toBe(1);
      for (const container of allContainers(podSpecOf(workloadOf(docs())))) {
        expect(container.env.map((e: Obj) => e.name)).not.toContain('PREFECT_API_URL');
        expect(container.envFrom).toContainEqual({
          configMapRef: { name: envMap!.metadata.name },
        });
      }
    });

    it('runs every container restricted, as the image is built, with the config mounted', (ctx) => {
      needKubectl(ctx);
      const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
      const [uid, gid] = /^USER (\d+):(\d+)$/m.exec(dockerfile)!.slice(1).map(Number);
      const pod = podSpecOf(workloadOf(docs()));
      expect(pod.securityContext).toMatchObject({ runAsUser: uid, runAsGroup: gid });
      expect(pod.hostNetwork).toBeUndefined();
      for (const container of allContainers(pod)) {
        restricted(container, pod);
        // `command` would replace the entrypoint, and with it tini as PID 1.
        expect(container.command).toBeUndefined();
      }
      const [main] = pod.containers;
      const tmp = main.volumeMounts.find((m: Obj) => m.mountPath === '/tmp');
      expect(pod.volumes.find((v: Obj) => v.name === tmp?.name)?.emptyDir).toBeDefined();
    });

    it('migrates first: an init container, same image, env and security, runs `migrate`', (ctx) => {
      needKubectl(ctx);
      const pod = podSpecOf(workloadOf(docs()));
      const [init, ...others] = pod.initContainers;
      const [main] = pod.containers;
      expect(others).toEqual([]);
      expect(init.args).toEqual(['migrate']);
      expect(init.image).toBe(main.image);
      expect(init.env).toEqual(main.env);
      expect(init.envFrom).toEqual(main.envFrom);
      expect(init.securityContext).toEqual(main.securityContext);
      // The config file names database.schema.
      expect(init.volumeMounts).toContainEqual(
        main.volumeMounts.find((m: Obj) => m.name === 'config'),
      );
    });

    it('has its own ServiceAccount, with no API token mounted', (ctx) => {
      needKubectl(ctx);
      const [account, ...more] = ofKind(docs(), 'ServiceAccount');
      expect(more).toEqual([]);
      expect(account!.automountServiceAccountToken).toBe(false);
      const pod = podSpecOf(workloadOf(docs()));
      expect(pod.serviceAccountName).toBe(account!.metadata.name);
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(docs().filter((d) => /Role/.test(d.kind as string))).toEqual([]);
    });

    it('the config file is one the worker accepts, with the environment the pods get', (ctx) => {
      needKubectl(ctx);
      const pod = podSpecOf(workloadOf(docs()));
      const [main] = pod.containers;
      const volume = pod.volumes.find((v: Obj) => v.name === 'config');
      const configMap = ofKind(docs(), 'ConfigMap').find(
        (c) => c.metadata.name === volume.configMap.name,
      )!;
      const mount = main.volumeMounts.find((m: Obj) => m.name === 'config');
      const env = Object.fromEntries(main.env.map((e: Obj) => [e.name, e.value]));
      expect(env.CONNECTOR_SYNC_CONFIG).toBe(`${mount.mountPath}/config.yaml`);
      const envMap = ofKind(docs(), 'ConfigMap').find((c) => 'PREFECT_API_URL' in c.data)!;
      const file = join(mkdtempSync(join(tmpdir(), 'cs-k8s-')), 'config.yaml');
      writeFileSync(file, configMap.data['config.yaml']);
      const result = loadConfig({
        env: { ...envMap.data, ...env, DATABASE_URL: 'postgres://u@db/app' },
        configFile: file,
      });
      expect(result.ok ? [] : result.errors).toEqual([]);
      if (result.ok) {
        expect(result.config.prefect.apiUrl).toBe(envMap.data.PREFECT_API_URL);
        expect(result.config.database.schema).toBe('connector_sync');
      }
    });
  });

  describe.each(OVERLAYS.filter((o) => o !== 'one-shot'))('the worker of %s', (overlay) => {
    const docs = () => rendered[overlay]!;
    const deployment = () => ofKind(docs(), 'Deployment')[0]!;

    it('is probed on /healthz and /readyz of the port it is told to bind on every interface', (ctx) => {
      needKubectl(ctx);
      const pod = deployment().spec.template.spec;
      const [container] = pod.containers;
      expect(container.args).toEqual(['run']);
      expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
      expect(container.ports).toEqual([{ name: 'http', containerPort: 8080 }]);
      // Told explicitly: a default of 127.0.0.1 would fail every probe.
      expect(container.env).toContainEqual({ name: 'HOST', value: '0.0.0.0' });
      expect(container.env).toContainEqual({ name: 'PORT', value: '8080' });
      // Room for the 20 s drain after SIGTERM.
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(20);
    });

    it('rolls without a gap: a new pod is ready before an old one goes', (ctx) => {
      needKubectl(ctx);
      expect(deployment().spec.strategy).toEqual({
        type: 'RollingUpdate',
        rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
      });
    });

    it('has a PodDisruptionBudget and a Service over its pods', (ctx) => {
      needKubectl(ctx);
      const labels = deployment().spec.template.metadata.labels;
      const [pdb, ...more] = ofKind(docs(), 'PodDisruptionBudget');
      expect(more).toEqual([]);
      expect(labels).toMatchObject(pdb!.spec.selector.matchLabels);
      expect(pdb!.spec.maxUnavailable).toBe(1);
      const [service] = ofKind(docs(), 'Service');
      expect(labels).toMatchObject(service!.spec.selector);
      expect(service!.spec.ports).toEqual([
        { name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' },
      ]);
    });

    it("lets only the monitoring namespace reach the worker's ops port", (ctx) => {
      needKubectl(ctx);
      const [policy] = ofKind(docs(), 'NetworkPolicy');
      expect(policy!.spec.podSelector.matchLabels).toEqual(
        deployment().spec.template.metadata.labels,
      );
      expect(policy!.spec.policyTypes).toEqual(['Ingress']);
      expect(policy!.spec.ingress).toEqual([
        {
          from: [
            { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
          ],
          ports: [{ protocol: 'TCP', port: 'http' }],
        },
      ]);
    });
  });

  it('prod runs two replicas, one per node (and spread over zones)', (ctx) => {
    needKubectl(ctx);
    const [deployment] = ofKind(rendered.prod!, 'Deployment');
    expect(deployment!.spec.replicas).toBe(2);
    const pod = deployment!.spec.template;
    const byKey = Object.fromEntries(
      (pod.spec.topologySpreadConstraints as Obj[]).map((c) => [c.topologyKey, c]),
    );
    expect(byKey['kubernetes.io/hostname']).toMatchObject({
      maxSkew: 1,
      whenUnsatisfiable: 'DoNotSchedule',
      matchLabelKeys: ['pod-template-hash'],
    });
    expect(pod.metadata.labels).toMatchObject(
      byKey['kubernetes.io/hostname'].labelSelector.matchLabels,
    );
    expect(byKey['topology.kubernetes.io/zone']).toMatchObject({ maxSkew: 1 });
  });

  it('the one-shot CronJob runs `run --once`, never two at once, with production settings', (ctx) => {
    needKubectl(ctx);
    const [cronjob] = ofKind(rendered['one-shot']!, 'CronJob');
    expect(cronjob!.spec.concurrencyPolicy).toBe('Forbid');
    const pod = podSpecOf(cronjob!);
    expect(pod.containers[0].args).toEqual(['run', '--once']);
    expect(pod.restartPolicy).toBe('Never');
    // Nothing left that only the Deployment's pods need.
    const kinds = rendered['one-shot']!.map((d) => d.kind);
    expect(kinds).not.toContain('PodDisruptionBudget');
    expect(kinds).not.toContain('Service');
    // The same image and Prefect as prod's worker.
    const prodPod = podSpecOf(ofKind(rendered.prod!, 'Deployment')[0]!);
    expect(pod.containers[0].image).toBe(prodPod.containers[0].image);
    const urlOf = (docs: Obj[]) =>
      docs.find((d) => d.kind === 'ConfigMap' && 'PREFECT_API_URL' in d.data)!.data.PREFECT_API_URL;
    expect(urlOf(rendered['one-shot']!)).toBe(urlOf(rendered.prod!));
  });

  it('only prod has the Prometheus Operator resources (the monitoring component)', (ctx) => {
    needKubectl(ctx);
    for (const overlay of OVERLAYS) {
      const kinds = rendered[overlay]!.map((d) => d.kind).filter((k) =>
        /^(PodMonitor|PrometheusRule)$/.test(k),
      );
      expect(kinds.sort(), overlay).toEqual(
        overlay === 'prod' ? ['PodMonitor', 'PrometheusRule'] : [],
      );
    }
  });

  it('the README says how to create the Secret the pods reference, with keys the worker reads', () => {
    const readme = readFileSync(join(KUSTOMIZE_DIR, 'README.md'), 'utf8');
    const command =
      /kubectl create secret generic (\S+)((?:\s+\\\n?\s*--from-literal=\w+=\S+)+)/.exec(readme);
    expect(command, 'a `kubectl create secret generic` command').not.toBeNull();
    expect(command![1]).toBe('connector-sync');
    const keys = [...command![2]!.matchAll(/--from-literal=(\w+)=/g)].map((m) => m[1]);
    expect(keys).toEqual(['DATABASE_URL', 'PREFECT_API_KEY', 'CONNECTOR_SYNC_HTTP_TOKEN']);
    const known = new Set(ENV_KEYS.map(([variable]) => variable));
    for (const key of keys) expect(known, key).toContain(key);
  });

  it('keeps no Secret manifest anywhere kustomize could pick it up', () => {
    const files = readdirSync(KUSTOMIZE_DIR, { recursive: true, encoding: 'utf8' });
    const yamls = files.filter((f) => /\.ya?ml$/.test(f));
    for (const file of yamls) {
      expect(readFileSync(join(KUSTOMIZE_DIR, file), 'utf8'), file).not.toMatch(
        /^kind:\s*Secret\s*$/m,
      );
    }
  });

  it('the Dockerfile runs as a non-root user under tini, from production dependencies only', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    // The official Debian-based Node 24 image by default; every stage takes the one argument
    // the container test changes (test/integration/container.test.ts).
    expect(dockerfile).toMatch(/^ARG BASE_IMAGE=docker\.io\/library\/node:24-bookworm-slim$/m);
    expect(dockerfile.match(/^FROM .*/gm)).toEqual([
      'FROM ${BASE_IMAGE} AS build',
      'FROM ${BASE_IMAGE} AS production-deps',
      'FROM ${BASE_IMAGE}',
    ]);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    expect(dockerfile).toMatch(
      /^ENTRYPOINT \["\/usr\/bin\/tini", "--", "node", "dist\/cli\/bin.js"\]$/m,
    );
    // The registry proxy's CA belongs to the test-only base, never to the shipped image.
    expect(dockerfile).not.toMatch(/NODE_EXTRA_CA_CERTS|ca-certificates|\.crt\b/);
  });
});
