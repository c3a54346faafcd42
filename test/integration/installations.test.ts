import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, type WorkerProcess } from '../harness/daemon.js';
import { createTestEnv, insertConnectors, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';

// Two installations on one Prefect (docs/concepts/ownership-and-safety.md,
// "Installations"): the same managed tag and flow, each its own source table
// and worker schema. Neither ever touches the other's deployments; one of the
// same name that reads another source is refused before it writes.

const shared = `managed-by:cs-shared-${randomBytes(4).toString('hex')}`;
const flowName = `cs_shared_flow_${randomBytes(4).toString('hex')}`;
const common = { ownership: { managedTag: shared }, deployment: { flowName } };

let a: TestEnv;
let b: TestEnv;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  a = await createTestEnv({ config: common });
  b = await createTestEnv({ config: { ...common, installation: 'team-b' } });
  // Team b's ids start at 1001: the same name template names different deployments.
  await b.sql(`ALTER SEQUENCE cai_connectors_id_seq RESTART WITH 1001`);
  await insertConnectors(a, rows('a'));
  await insertConnectors(b, rows('b'));
});
afterAll(async () => {
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
  await a?.cleanup();
  await b?.cleanup();
});

function rows(team: string): { name: string; schedule: string }[] {
  return Array.from({ length: 40 }, (_, i) => ({ name: `${team}-${i}`, schedule: `${i} 6 * * *` }));
}

async function fleet(): Promise<Map<string, { id: string; tags: string[] }>> {
  const all = await prefectApi(a.apiUrl).deploymentsByTag(shared);
  return new Map(
    all.map((d) => [d.name as string, { id: d.id as string, tags: d.tags as string[] }]),
  );
}

async function actions(env: TestEnv): Promise<Record<string, number>> {
  const rows = await env.sql<{ action: string; n: number }>(
    `SELECT action, count(*)::int AS n FROM connector_sync.events GROUP BY action`,
  );
  return Object.fromEntries(rows.map((r) => [r.action, r.n]));
}

async function fullPassOf(env: TestEnv): Promise<WorkerProcess> {
  const worker = await startWorker(env, { CONNECTOR_SYNC_SCHEDULE: '0 0 1 1 *' });
  workers.push(worker);
  await worker.waitForLog((l) => l.msg === 'pass finished' && l.kind === 'full', 60_000);
  return worker;
}

async function stop(worker: WorkerProcess): Promise<void> {
  worker.kill('SIGTERM');
  expect((await worker.exited).code).toBe(0);
}

describe('two installations sharing one Prefect, managed tag and flow', () => {
  it('each owns its own: 0 deletes, 0 creates after the first pass, every id unchanged', async () => {
    // First passes, side by side.
    let [wa, wb] = await Promise.all([fullPassOf(a), fullPassOf(b)]);
    const first = await fleet();
    expect(first.size).toBe(80);
    // The default installation's deployments carry no installation tag (as before installations).
    expect(first.get('connector-1')!.tags.some((t) => t.startsWith('cs-installation:'))).toBe(
      false,
    );
    expect(first.get('connector-1001')!.tags).toContain('cs-installation:team-b');

    // More passes of both, each seeing the other's 40 deployments under the shared tag.
    await Promise.all([stop(wa), stop(wb)]);
    [wa, wb] = await Promise.all([fullPassOf(a), fullPassOf(b)]);
    for (const w of [wa, wb]) {
      const pass = w.logs.filter((l) => l.msg === 'pass finished').at(-1)!;
      expect(pass).toMatchObject({ changes: 0, applied: 0, problems: 0 });
    }
    await Promise.all([stop(wa), stop(wb)]);
    for (const env of [a, b]) {
      const plan = await env.cli(['plan', '--json']);
      expect(plan.code).toBe(0);
      expect(JSON.parse(plan.stdout).held_deletes).toBeNull();
      expect((await env.cli(['run', '--once'])).code).toBe(0);
    }

    const last = await fleet();
    expect(last.size).toBe(80);
    for (const [name, { id }] of first) expect(last.get(name)?.id).toBe(id);
    expect(await actions(a)).toEqual({ created: 40 });
    expect(await actions(b)).toEqual({ created: 40 });
  });

  it('another installation of the same name (its own source and schema) is refused before it writes (exit 64)', async () => {
    const twin = await createTestEnv({ config: common }); // "default" again, its own database
    try {
      await insertConnectors(twin, rows('twin'));
      const run = await twin.cli(['run', '--once']);
      expect(run.code).toBe(64);
      const lines = run.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('connector-sync:'));
      expect(lines).toHaveLength(1);
      const dbOf = (env: TestEnv): string => new URL(env.databaseUrl).pathname.slice(1);
      expect(lines[0]).toContain(
        `installation "default" (managed tag "${shared}") already belongs to another installation, reading 127.0.0.1:5432/${dbOf(a)} cai_connectors; this one reads 127.0.0.1:5432/${dbOf(twin)} cai_connectors: give this one a name of its own (installation, CONNECTOR_SYNC_INSTALLATION)`,
      );
      expect((await twin.cli(['plan'])).code).toBe(64);
      // The worker refuses at start, before it leads: it never becomes ready.
      const worker = await startWorker(twin).catch((error: unknown) => error);
      expect(worker).toBeInstanceOf(Error);
      expect((worker as Error).message).toContain(
        `connector-sync: installation "default" (managed tag "${shared}") already belongs to another installation`,
      );
      expect((await fleet()).size).toBe(80);
      expect(await actions(twin)).toEqual({});

      // Given a name of its own, it goes beside the others.
      const own = await twin.cli(['run', '--once'], { CONNECTOR_SYNC_INSTALLATION: 'twin' });
      expect(own.code).toBe(1); // its names are team a's: each a conflict, none taken over
      expect(own.stdout).toContain(
        'deployment "connector-1" belongs to connector-sync installation "default"; give this installation a deployment.nameTemplate or flow of its own',
      );
      const after = await fleet();
      expect(after.size).toBe(80);
      expect(await actions(a)).toEqual({ created: 40 });
    } finally {
      await twin.cleanup();
    }
  });
});
