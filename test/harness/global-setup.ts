import type { TestProject } from 'vitest/node';
import {
  ensureWorkPool,
  startPrefectServer,
  type PrefectServer,
} from '../../scripts/prefect-server.ts';

// One real Prefect server for the whole run; tests isolate themselves by
// managed tag, flow name and database.

let server: PrefectServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  // `npm run test:unit` needs no server.
  if (process.env.CONNECTOR_SYNC_UNIT_ONLY === '1') return;
  // Overridable so two test runs (two checkouts) can share this machine.
  const database = process.env.CONNECTOR_SYNC_TEST_PREFECT_DB ?? 'cs_test_prefect';
  server = await startPrefectServer({ database });
  await ensureWorkPool(server.apiUrl, 'default');
  project.provide('prefectApiUrl', server.apiUrl);
  project.provide('prefectDatabase', database);
  project.provide('prefectVenv', server.venv);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    prefectApiUrl: string;
    prefectDatabase: string;
    prefectVenv: string;
  }
}
