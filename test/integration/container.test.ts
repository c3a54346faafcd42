import { chmodSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import {
  buildImage,
  ensureTestBase,
  missingTools,
  podman,
  podmanOk,
} from '../../scripts/container.ts';
import { freePort, REPO } from '../../scripts/prefect-server.ts';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { manifestPod, podmanRunFlags, probePort, type ManifestPod } from '../harness/kube-pod.js';
import { findKubectl, NO_KUBECTL } from '../harness/kustomize.js';
import { eventually, prefectApi } from '../harness/prefect-api.js';
import { startProxy, type FaultProxy } from '../harness/proxy.js';

// The image that ships, built and run: the repository's Dockerfile with only
// BASE_IMAGE swapped for a Debian + Node 24 base made on this machine
// (scripts/container.ts), run with podman the way the kustomize overlays run it
// (test/harness/kube-pod.ts reads the flags, environment and args from what
// `kubectl kustomize` renders: the worker of overlays/prod, the CronJob of
// overlays/one-shot), against the suite's real Postgres and Prefect. If podman
// cannot run containers here, or there is no kubectl to render with, the tests
// are skipped and say why; they never pass without the image.

const SCHEMA = 'connector_sync';
const PKG = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
let WORKER: ManifestPod;
let ONE_SHOT: ManifestPod;

let skipReason: string | null = null;
let image = '';
let built = false;
let env: TestEnv | undefined;
const containers: string[] = [];
let proxy: FaultProxy | undefined;

function skipUnlessContainers(ctx: TestContext): void {
  if (skipReason) ctx.skip(`container tests skipped: ${skipReason}`);
}

beforeAll(async () => {
  skipReason = findKubectl() ? await missingTools() : NO_KUBECTL;
  if (!skipReason) {
    const info = await podman(['info'], 120_000);
    if (info.code !== 0) skipReason = `podman info failed: ${lastLines(info.stderr)}`;
  }
  if (skipReason) {
    console.warn(`container tests skipped: ${skipReason}`);
    return;
  }
  WORKER = manifestPod('prod', 'Deployment');
  ONE_SHOT = manifestPod('one-shot', 'CronJob');
  const started = performance.now();
  const base = await ensureTestBase();
  console.log(`base ${base}: ready in ${seconds(started)}`);
  const probe = await podman(['run', '--rm', '--network', 'host', base, 'true'], 300_000);
  if (probe.code !== 0) {
    skipReason = `podman cannot run a container on this machine: ${lastLines(probe.stderr)}`;
    console.warn(`container tests skipped: ${skipReason}`);
    return;
  }
  image = `localhost/connector-sync-test:${process.pid}-${Date.now().toString(36)}`;
  const building = performance.now();
  await buildImage(image, base);
  built = true;
  console.log(`image ${image}: built in ${seconds(building)}`);
}, 1_800_000);

afterAll(async () => {
  for (const name of containers) await podman(['rm', '--force', '--time', '0', name], 120_000);
  if (built) {
    // The last image built keeps its layers for the next run's build (podman drops
    // the layers of an image it removes); the run's own tag goes.
    await podman(['tag', image, 'localhost/connector-sync-test:last'], 120_000);
    await podman(['rmi', image], 120_000);
  }
  await proxy?.close();
  await env?.cleanup();
}, 300_000);

/** One-shot `podman run` of the image as the CronJob runs it; `args` replace the manifest's. */
function runOnce(args: string[], prefectUrl = env!.apiUrl) {
  const name = `cs-test-${env!.id}-${containers.length}`;
  containers.push(name);
  return podman(
    [
      'run',
      '--rm',
      '--name',
      name,
      '--network',
      'host',
      ...podmanRunFlags(ONE_SHOT, inputs(prefectUrl)),
      image,
      ...args,
    ],
    300_000,
  );
}

/** The args of prod's init container, `migrate`. */
function migrateArgs(): string[] {
  const init = (WORKER.pod.initContainers as any[]).find((c) => c.name === 'migrate');
  return init.args as string[];
}

function inputs(prefectUrl: string, overrides: Record<string, string> = {}) {
  return {
    configDir: dirname(env!.configFile),
    secret: { DATABASE_URL: env!.databaseUrl },
    overrides: { PREFECT_API_URL: prefectUrl, ...overrides },
  };
}

describe('the image', () => {
  it('builds from the Dockerfile as shipped; runs as uid 1000 under tini; prints its version', async (ctx) => {
    skipUnlessContainers(ctx);
    const [inspected] = JSON.parse(await podmanOk(['image', 'inspect', image])) as any[];
    console.log(`image size: ${(inspected.Size / 1e6).toFixed(0)} MB`);
    expect(inspected.Config.User).toBe('1000:1000');
    expect(inspected.Config.Entrypoint).toEqual(['/usr/bin/tini', '--', 'node', 'dist/cli/bin.js']);
    expect(inspected.Config.Cmd).toEqual(['run']);
    // The image's own user, not the manifests' runAsUser, is what `podman run` gets here.
    const who = await podmanOk(['run', '--rm', '--entrypoint', 'id', image]);
    expect(who.trim()).toBe('uid=1000(node) gid=1000(node) groups=1000(node)');
    // Production dependencies and compiled code only.
    const files = await podmanOk([
      'run',
      '--rm',
      '--entrypoint',
      'sh',
      image,
      '-c',
      'ls /app; ls /app/node_modules/pg /app/node_modules/vitest /app/node_modules/typescript 2>&1 >/dev/null || true; ls /app/console /app/dist/ops/console/format.js',
    ]);
    expect(files.split('\n').slice(0, 6)).toEqual([
      'config',
      'console',
      'dist',
      'node_modules',
      'package.json',
      'sql',
    ]);
    expect(files).toMatch(/vitest': No such file/);
    expect(files).toMatch(/typescript': No such file/);
    expect(files).not.toMatch(/\/pg': No such file/);
    // The ops console's files: the page from console/, format.js compiled into dist/.
    expect(files).toMatch(/^\/app\/dist\/ops\/console\/format\.js$/m);
    expect(files).toMatch(/^app\.css\napp\.js\nindex\.html$/m);

    const version = await podman(['run', '--rm', image, '--version']);
    expect(version).toMatchObject({ code: 0, stdout: `${PKG.version}\n` });
  });

  it('migrate makes the schema, run --once makes the deployments (exit 0), migrate again: current', async (ctx) => {
    skipUnlessContainers(ctx);
    // Only the worker's start pass runs: its schedule is a year away.
    env = await createTestEnv({
      config: { reconcile: { schedule: '0 0 1 1 *' } },
      registerInstallation: false,
    });
    // The worker's own schema is made by the image, not by the test's setup
    // (so is its installation's identity: none is recorded up front).
    await env.sql(`DROP SCHEMA ${SCHEMA} CASCADE`);
    // The container user (uid 1000) reads the config the way it reads the ConfigMap.
    chmodSync(dirname(env.configFile), 0o755);
    const ids = await insertConnectors(env, [
      { name: 'image-a', schedule: '0 1 * * *' },
      { name: 'image-b', schedule: '30 2 * * *', timezone: 'Europe/Berlin' },
      { name: 'image-c', is_active: false },
    ]);

    const migrated = await runOnce(migrateArgs());
    expect(migrated, migrated.stderr).toMatchObject({ code: 0 });
    expect(migrated.stdout).toMatch(/^Applied: 001_/);

    const once = await runOnce(ONE_SHOT.container.args);
    expect(once.code, once.stderr).toBe(0);
    const deployments = await prefectApi(env.apiUrl).deploymentsByTag(env.tag);
    expect(deployments.map((d) => d.name).sort()).toEqual(
      ids.map((id) => `connector-${id}`).sort(),
    );
    expect(deployments.find((d) => d.name === `connector-${ids[2]}`)?.paused).toBe(true);
    const events = await env.sql(`SELECT action FROM ${SCHEMA}.events`);
    expect(events.map((e) => e.action)).toEqual(['created', 'created', 'created']);

    const again = await runOnce(migrateArgs());
    expect(again).toMatchObject({ code: 0, stdout: 'Schema is current.\n' });
  }, 600_000);

  it('the worker, read-only but /tmp: healthz and readyz answer; podman stop drains the calls in flight, exit 0', async (ctx) => {
    skipUnlessContainers(ctx);
    expect(env, 'the run --once test made the environment').toBeDefined();
    const e = env!;
    const { container, pod } = WORKER;
    // The probes ask the port the worker listens on (PORT); here a free one stands in.
    const manifestPort = container.env.find((v: any) => v.name === 'PORT')?.value;
    expect(probePort(container, container.livenessProbe)).toBe(Number(manifestPort));
    expect(probePort(container, container.readinessProbe)).toBe(Number(manifestPort));
    const port = await freePort();

    const N = 60;
    const count = async (sql: string): Promise<number> => (await e.sql(sql))[0]!.n as number;
    const before = await count(`SELECT count(*)::int AS n FROM cai_connectors`);
    const eventsBefore = await count(`SELECT count(*)::int AS n FROM ${SCHEMA}.events`);
    await insertConnectors(
      e,
      Array.from({ length: N }, (_, i) => ({ name: `image-w${i}`, schedule: `${i} 4 * * *` })),
    );
    // Slowed calls keep the start pass in flight long enough to be stopped mid-way.
    proxy = await startProxy(e.apiUrl, [], { latency: { ms: 500 } });
    const name = `cs-test-${e.id}-worker`;
    containers.push(name);
    const started = performance.now();
    await podmanOk([
      'run',
      '--detach',
      '--name',
      name,
      '--network',
      'host',
      ...podmanRunFlags(WORKER, inputs(proxy.url, { PORT: String(port) })),
      image,
      ...container.args,
    ]);
    const base = `http://127.0.0.1:${port}`;
    const ready = await eventually(
      () => readyOrExited(name, `${base}${container.readinessProbe.httpGet.path}`),
      (s) => s === 200 || s === 'exited',
      120_000,
    );
    expect(ready, await logs(name)).toBe(200);
    console.log(`worker start (podman run) to ready: ${seconds(started)}`);
    const health = await fetch(`${base}${container.livenessProbe.httpGet.path}`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    // The console is served from the image's files (read-only root filesystem and all).
    for (const path of ['/', '/app.js', '/app.css', '/format.js']) {
      const asset = await fetch(`${base}${path}`);
      expect(asset.status, path).toBe(200);
      expect((await asset.text()).length, path).toBeGreaterThan(100);
    }

    // tini is PID 1; the root filesystem is read-only and /tmp is writable.
    expect((await podmanOk(['exec', name, 'cat', '/proc/1/comm'])).trim()).toBe('tini');
    const write = await podman([
      'exec',
      name,
      'sh',
      '-c',
      'touch /app/x 2>&1; touch /tmp/x && echo tmp ok',
    ]);
    expect(write.stdout).toContain("touch: cannot touch '/app/x': Read-only file system");
    expect(write.stdout).toContain('tmp ok');

    await eventually(
      () => e.sql(`SELECT count(*)::int AS n FROM ${SCHEMA}.events`),
      (rows) => rows[0]!.n > eventsBefore,
      120_000,
    );
    const grace = pod.terminationGracePeriodSeconds as number;
    const stopping = performance.now();
    await podmanOk(['stop', '--time', String(grace), name], (grace + 60) * 1000);
    console.log(`podman stop (SIGTERM) to exit: ${seconds(stopping)}`);
    const [state] = JSON.parse(await podmanOk(['inspect', name])) as any[];
    const output = await logs(name);
    // Not 137: the worker exited on its own before the grace period ran out.
    expect(state.State.ExitCode, output).toBe(0);
    const lines = output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.msg === 'stopping: finishing the changes in flight')).toBeDefined();
    expect(lines.find((l) => l.msg === 'worker stopped')).toMatchObject({ outcome: 'drained' });

    // Every create that reached Prefect has its one event; nothing is left open.
    const intents = await e.sql(`SELECT * FROM ${SCHEMA}.intents`);
    expect(intents).toEqual([]);
    const made = await prefectApi(e.apiUrl).deploymentsByTag(e.tag);
    const created = await e.sql(
      `SELECT deployment_id FROM ${SCHEMA}.events WHERE action = 'created'`,
    );
    expect(created.map((r) => r.deployment_id).sort()).toEqual(made.map((d) => d.id).sort());
    console.log(`created before the stop: ${made.length - before} of ${N}`);
    expect(made.length - before).toBeLessThan(N); // the stop came mid-pass

    // The one-shot image finishes the rest, once each.
    const rest = await runOnce(ONE_SHOT.container.args);
    expect(rest.code, rest.stderr).toBe(0);
    const all = await prefectApi(e.apiUrl).deploymentsByTag(e.tag);
    expect(all).toHaveLength(before + N);
    const events = await e.sql(
      `SELECT deployment_id FROM ${SCHEMA}.events WHERE action = 'created'`,
    );
    expect(events.map((r) => r.deployment_id).sort()).toEqual(all.map((d) => d.id).sort());
  }, 600_000);
});

/** The probe's status, or 'exited' once the container is no longer running. */
async function readyOrExited(name: string, url: string): Promise<number | 'down' | 'exited'> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(5_000) })).status;
  } catch {
    const running = await podman(['inspect', '--format', '{{.State.Running}}', name]);
    return running.stdout.trim() === 'true' ? 'down' : 'exited';
  }
}

async function logs(name: string): Promise<string> {
  const result = await podman(['logs', name]);
  return `${result.stdout}${result.stderr}`;
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ');
}
