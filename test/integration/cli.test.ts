import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, REPO } from '../../scripts/prefect-server.ts';
import { createTestEnv, insertConnectors, runCli, type TestEnv } from '../harness/env.js';
import { prefectApi } from '../harness/prefect-api.js';

// Exit codes and messages of the command line (docs/reference/exit-codes.md), end to end.

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv({ config: { reconcile: { lockWaitSeconds: 1 } } });
  await insertConnectors(env, [{ name: 'one', schedule: '0 1 * * *' }]);
});
afterAll(async () => env?.cleanup());

describe('exit codes', () => {
  it('plan exits 2 with changes pending, run applies, plan then exits 0; --json is one object', async () => {
    const pending = await env.cli(['plan']);
    expect(pending.code).toBe(2);
    expect(pending.stdout).toMatch(
      /^\+ create {2}connector-\d+ +schedule "0 1 \* \* \*" UTC, active$/m,
    );
    expect(pending.stdout).toMatch(
      /^Plan: 1 to create, 0 to update, 0 to pause, 0 to resume, 0 to delete; 0 unchanged\.$/m,
    );
    expect(await prefectApi(env.apiUrl).deploymentsByTag(env.tag)).toEqual([]); // plan changed nothing

    expect((await env.cli(['run', '--once'])).code).toBe(0);
    const converged = await env.cli(['plan', '--json']);
    expect(converged.code).toBe(0);
    expect(JSON.parse(converged.stdout)).toEqual({
      changes: [],
      problems: [],
      held_deletes: null,
      suspended: [],
      waiting: [],
      summary: {
        create: 0,
        update: 0,
        pause: 0,
        resume: 0,
        delete: 0,
        unchanged: 1,
        suspended: 0,
        invalid: 0,
        conflict: 0,
        failed: 0,
      },
    });
  });

  it('every configuration problem is listed at once, exit 64', async () => {
    const file = join(tmpdir(), `cs-bad-${env.id}.yaml`);
    writeFileSync(
      file,
      'reconcile:\n  concurrency: 0\n  maxDeletesPerPass: lots\ndeployment:\n  onInactive: archive\n  nameTemplate: fixed\nsourec: {}\n',
    );
    const result = await runCli(['plan'], {
      CONNECTOR_SYNC_CONFIG: file,
      PREFECT_API_URL: 'not a url',
    });
    expect(result.code).toBe(64);
    for (const fragment of [
      'reconcile.concurrency',
      'reconcile.maxDeletesPerPass',
      'deployment.onInactive',
      'deployment.nameTemplate',
      'sourec',
      'prefect.apiUrl (PREFECT_API_URL)',
      'database.url (DATABASE_URL): is required',
    ]) {
      expect(result.stderr).toContain(fragment);
    }
  });

  it('a work pool that does not exist is one configuration problem, exit 64, no connector failures', async () => {
    const file = join(tmpdir(), `cs-pool-${env.id}.yaml`);
    writeFileSync(
      file,
      `deployment:\n  workPoolName: no-such-pool\n  flowName: ${env.flowName}\nownership:\n  managedTag: "${env.tag}"\n`,
    );
    const result = await env.cli(['run', '--once'], { CONNECTOR_SYNC_CONFIG: file });
    expect(result.code).toBe(64);
    expect(result.stderr).toContain('work pool "no-such-pool" does not exist');
    expect(await env.sql(`SELECT * FROM connector_sync.events WHERE action = 'failed'`)).toEqual(
      [],
    );
  });

  it('Prefect unreachable → 69; Postgres unreachable → 69', async () => {
    const closed = await freePort();
    const noPrefect = await env.cli(['run', '--once'], {
      PREFECT_API_URL: `http://127.0.0.1:${closed}/api`,
    });
    expect(noPrefect.code).toBe(69);
    expect(noPrefect.stderr).toMatch(/Prefect is unavailable/);

    const noPostgres = await env.cli(['run', '--once'], {
      DATABASE_URL: `postgres://postgres:hunter22@127.0.0.1:${closed}/x`,
    });
    expect(noPostgres.code).toBe(69);
    expect(noPostgres.stderr).toMatch(/Postgres is unavailable/);
    expect(noPostgres.stderr).not.toContain('hunter22');
  }, 120_000);

  it('another pass holding the lock longer than lockWaitSeconds → 69', async () => {
    const holder = new pg.Client({ connectionString: env.databaseUrl });
    await holder.connect();
    await holder.query(`SELECT pg_advisory_lock(hashtext('connector-sync:leader:connector_sync'))`);
    try {
      const started = Date.now();
      const result = await env.cli(['run', '--once']);
      expect(result.code).toBe(69);
      expect(result.stderr).toContain('another connector-sync process holds the reconcile lock');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    } finally {
      await holder.end();
    }
    expect((await env.cli(['run', '--once'])).code).toBe(0);
  });

  it('status and events show what happened', async () => {
    const status = await env.cli(['status', '--json']);
    expect(status.code).toBe(0);
    const [connector] = JSON.parse(status.stdout).connectors;
    expect(connector).toMatchObject({
      status: 'synced',
      deployment_name: expect.stringMatching(/^connector-/),
    });
    const events = await env.cli(['events', '--action', 'created', '--json']);
    expect(events.code).toBe(0);
    const lines = events.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ action: 'created', deployment_id: connector.deployment_id });
    const bad = await env.cli(['events', '--action', 'exploded']);
    expect(bad.code).toBe(64);
  });
});

describe('recreating deployments', () => {
  it('changing the flow name deletes the old deployments and creates new ones', async () => {
    const local = await createTestEnv();
    try {
      await insertConnectors(local, [{ name: 'x' }, { name: 'y' }]);
      await local.pass();
      const old = await prefectApi(local.apiUrl).deploymentsByTag(local.tag);
      const moved = local.withConfig({ deployment: { flowName: `${local.flowName}_v2` } });
      const result = await local.pass({}, moved);
      expect(result.plan.changes.map((c) => c.action).sort()).toEqual([
        'create',
        'create',
        'delete',
        'delete',
      ]);
      const now = await prefectApi(local.apiUrl).deploymentsByTag(local.tag);
      expect(now.map((d) => d.id).some((id) => old.some((o) => o.id === id))).toBe(false);
      expect(await prefectApi(local.apiUrl).flowName(now[0]!.flow_id)).toBe(`${local.flowName}_v2`);
      const states = await local.sql(`SELECT status FROM connector_sync.connector_state`);
      expect(states.map((s) => s.status)).toEqual(['synced', 'synced']);
      expect((await local.pass({}, moved)).calls.writes).toBe(0);
    } finally {
      await local.cleanup();
    }
  });
});

describe('--version', () => {
  it("prints package.json's version and exits 0, with no configuration at all", async () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(await runCli(['--version'], {})).toEqual({
      code: 0,
      stdout: `${pkg.version}\n`,
      stderr: '',
    });
  });
});
