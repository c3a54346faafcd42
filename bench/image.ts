// The container image: how long the base and the image take to build, how
// big the image is, and how long the worker takes in it from `podman run` to
// a 200 on its readiness probe, then from `podman stop` (SIGTERM) to its exit.
// The image is built as the container test builds it (the Dockerfile with
// BASE_IMAGE set to the local Debian + Node 24 base) and run with the flags
// of config/kubernetes/overlays/prod (as `kubectl kustomize` renders it),
// against a real Prefect and Postgres.
//   npm run bench:image -- [N]     (N connectors in the source table, default 100)
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildImage,
  ensureBase,
  ensureTestBase,
  missingTools,
  podman,
  podmanOk,
} from '../scripts/container.ts';
import { freePort } from '../scripts/prefect-server.ts';
import { manifestPod, podmanRunFlags } from '../test/harness/kube-pod.ts';
import { percentile, report, round, startBenchEnv } from './support.ts';

const N = Number(process.argv[2] ?? 100);
const STARTS = 5;
const TAG = `localhost/connector-sync-bench:${process.pid}`;

const why = await missingTools();
if (why) throw new Error(why);
const median = (values: number[]): number => percentile(values, 50);
const secondsSince = (t: number): number => round((performance.now() - t) / 1000);

let t = performance.now();
await ensureBase({ fresh: true });
const baseCold = secondsSince(t);
t = performance.now();
const base = await ensureTestBase();
const baseWarm = secondsSince(t);
t = performance.now();
await buildImage(TAG, base, ['--no-cache']);
const buildCold = secondsSince(t);
// podman does not reuse the layers of a --no-cache build: the first normal build
// makes the cache, the second is timed.
await buildImage(TAG, base);
t = performance.now();
await buildImage(TAG, base);
const buildCached = secondsSince(t);
const [inspected] = JSON.parse(await podmanOk(['image', 'inspect', TAG])) as any[];
const sizeMb = Math.round(inspected.Size / 1e6);

const env = await startBenchEnv('image', N);
const configDir = mkdtempSync(join(tmpdir(), 'cs-bench-image-'));
writeFileSync(join(configDir, 'config.yaml'), "reconcile:\n  schedule: '0 0 1 1 *'\n");
chmodSync(configDir, 0o755); // read by the container's uid 1000, as a ConfigMap is
const worker = manifestPod('prod', 'Deployment');
const starts: { ready_s: number; stop_s: number; exit: number }[] = [];
try {
  for (let i = 0; i < STARTS; i++) {
    const port = await freePort();
    const name = `cs-bench-image-${process.pid}-${i}`;
    const flags = podmanRunFlags(worker, {
      configDir,
      secret: { DATABASE_URL: env.databaseUrl },
      overrides: { PREFECT_API_URL: env.apiUrl, PORT: String(port) },
    });
    const started = performance.now();
    await podmanOk(['run', '--detach', '--name', name, '--network', 'host', ...flags, TAG]);
    for (;;) {
      const status = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      if (performance.now() - started > 120_000) throw new Error('not ready after 120 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    const ready = secondsSince(started);
    // Let the start pass (the first start creates N deployments) finish before the stop.
    await new Promise((r) => setTimeout(r, i === 0 ? 30_000 : 3_000));
    const stopping = performance.now();
    await podmanOk(['stop', '--time', '30', name], 120_000);
    const stop = secondsSince(stopping);
    const exit = Number(
      (await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', name])).trim(),
    );
    await podman(['rm', '--force', name]);
    starts.push({ ready_s: ready, stop_s: stop, exit });
  }
} finally {
  await env.stop();
  await podman(['rmi', TAG]);
}

report(
  'image',
  N,
  [
    { what: 'base: mmdebstrap + import, s (cold)', value: baseCold },
    { what: 'base: already in podman storage, s (warm)', value: baseWarm },
    { what: 'image build --no-cache, s', value: buildCold },
    { what: 'image build, layers cached, s', value: buildCached },
    { what: 'image size, MB', value: sizeMb },
    {
      what: `podman run → /readyz 200, s (median of ${STARTS})`,
      value: median(starts.map((s) => s.ready_s)),
    },
    {
      what: `podman stop → exit, s (median of ${STARTS})`,
      value: median(starts.map((s) => s.stop_s)),
    },
  ],
  { starts, sizeMb },
);
