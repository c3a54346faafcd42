import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../../src/config/load.js';

// The manifests cannot be applied here (no cluster); this checks what can be
// checked: valid YAML, the restricted security context, probes on the real
// endpoints, and a ConfigMap the worker accepts.

const DIR = join(import.meta.dirname, '../../../config/kubernetes');
const manifests = Object.fromEntries(
  readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => {
      const docs = parseAllDocuments(readFileSync(join(DIR, f), 'utf8'));
      for (const doc of docs) expect(doc.errors).toEqual([]);
      return [f, docs.map((d) => d.toJS() as Record<string, any>)];
    }),
);

function restricted(container: Record<string, any>, pod: Record<string, any>): void {
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
  expect(container.resources.requests).toBeDefined();
  expect(container.resources.limits).toBeDefined();
}

describe('config/kubernetes', () => {
  it('has a Deployment, ConfigMap, Secret example, CronJob and NetworkPolicy', () => {
    expect(Object.keys(manifests).sort()).toEqual([
      'configmap.yaml',
      'cronjob.yaml',
      'deployment.yaml',
      'networkpolicy.yaml',
      'secret.example.yaml',
    ]);
    expect(manifests['deployment.yaml']![0]!.kind).toBe('Deployment');
    expect(manifests['cronjob.yaml']![0]!.kind).toBe('CronJob');
  });

  it('runs two replicas of the worker, restricted, probed on /healthz and /readyz', () => {
    const deployment = manifests['deployment.yaml']![0]!;
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template.spec;
    const [container] = pod.containers;
    restricted(container, pod);
    expect(container.args).toEqual(['run']);
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    // Room for the 20 s drain after SIGTERM.
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(20);
  });

  it('the CronJob runs the one-shot mode, restricted, never two at once', () => {
    const cronjob = manifests['cronjob.yaml']![0]!;
    expect(cronjob.spec.concurrencyPolicy).toBe('Forbid');
    const pod = cronjob.spec.jobTemplate.spec.template.spec;
    restricted(pod.containers[0], pod);
    expect(pod.containers[0].args).toEqual(['run', '--once']);
  });

  it.each([
    ['deployment.yaml', (doc: Record<string, any>) => doc.spec.template.spec],
    ['cronjob.yaml', (doc: Record<string, any>) => doc.spec.jobTemplate.spec.template.spec],
  ])(
    '%s migrates first: an init container, same image, env and security, runs `migrate`',
    (file, podOf) => {
      const pod = podOf(manifests[file]![0]!);
      const [init, ...others] = pod.initContainers;
      const [main] = pod.containers;
      expect(others).toEqual([]);
      restricted(init, pod);
      expect(init.args).toEqual(['migrate']);
      expect(init.image).toBe(main.image);
      expect(init.env).toEqual(main.env);
      expect(init.envFrom).toEqual(main.envFrom);
      expect(init.securityContext).toEqual(main.securityContext);
      // The config file names database.schema.
      expect(init.volumeMounts).toContainEqual(
        main.volumeMounts.find((m: Record<string, any>) => m.name === 'config'),
      );
    },
  );

  it("lets only the monitoring namespace reach the worker's ops port", () => {
    const [policy] = manifests['networkpolicy.yaml']!;
    const deployment = manifests['deployment.yaml']![0]!;
    expect(policy!.kind).toBe('NetworkPolicy');
    expect(policy!.spec.podSelector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
    expect(policy!.spec.policyTypes).toEqual(['Ingress']);
    expect(policy!.spec.ingress).toEqual([
      {
        from: [
          { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
        ],
        ports: [{ protocol: 'TCP', port: 'http' }],
      },
    ]);
    // The port it names is the one the worker listens on and is probed on.
    const [container] = deployment.spec.template.spec.containers;
    expect(container.ports).toEqual([{ name: 'http', containerPort: 8080 }]);
    expect(container.env).toContainEqual({ name: 'PORT', value: '8080' });
    expect(container.livenessProbe.httpGet.port).toBe('http');
  });

  it('the Secret example carries the ops credential, and the worker refuses its placeholder', () => {
    const secret = manifests['secret.example.yaml']![0]!;
    const deployment = manifests['deployment.yaml']![0]!;
    expect(deployment.spec.template.spec.containers[0].envFrom).toContainEqual({
      secretRef: { name: secret.metadata.name },
    });
    const { CONNECTOR_SYNC_HTTP_TOKEN: token, ...rest } = secret.stringData;
    expect(token).toBe('CHANGE-ME');
    const result = loadConfig({
      env: {
        ...rest,
        PREFECT_API_URL: 'http://prefect:4200/api',
        CONNECTOR_SYNC_HTTP_TOKEN: token,
      },
    });
    expect(result.ok ? [] : result.errors).toEqual([
      'http.auth.token (CONNECTOR_SYNC_HTTP_TOKEN): must be at least 16 characters (e.g. openssl rand -hex 32)',
    ]);
  });

  it('the ConfigMap holds a configuration the worker accepts', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cs-k8s-')), 'config.yaml');
    writeFileSync(file, manifests['configmap.yaml']![0]!.data['config.yaml']);
    const result = loadConfig({
      env: { DATABASE_URL: 'postgres://u@db/app', PREFECT_API_URL: 'http://prefect:4200/api' },
      configFile: file,
    });
    expect(result).toMatchObject({ ok: true });
  });

  it('the Dockerfile runs as a non-root user under tini, from production dependencies only', () => {
    const dockerfile = readFileSync(join(import.meta.dirname, '../../../Dockerfile'), 'utf8');
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

  it('the manifests run the image as built: its entrypoint, its user, read-only with /tmp an emptyDir', () => {
    const dockerfile = readFileSync(join(import.meta.dirname, '../../../Dockerfile'), 'utf8');
    const [uid, gid] = /^USER (\d+):(\d+)$/m.exec(dockerfile)!.slice(1).map(Number);
    const pods = [
      manifests['deployment.yaml']![0]!.spec.template.spec,
      manifests['cronjob.yaml']![0]!.spec.jobTemplate.spec.template.spec,
    ];
    for (const pod of pods) {
      const [container] = pod.containers;
      // `command` would replace the entrypoint, and with it tini as PID 1.
      expect(container.command).toBeUndefined();
      expect(pod.securityContext).toMatchObject({ runAsUser: uid, runAsGroup: gid });
      const tmp = container.volumeMounts.find((m: any) => m.mountPath === '/tmp');
      expect(pod.volumes.find((v: any) => v.name === tmp?.name)?.emptyDir).toBeDefined();
    }
  });
});
