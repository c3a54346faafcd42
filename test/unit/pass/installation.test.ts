import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../src/domain/errors.js';
import {
  InstallationClaim,
  sourceIdentity,
  type VariablePort,
} from '../../../src/pass/installation.js';
import { PrefectError } from '../../../src/prefect/errors.js';

const config = (url: string, installation = 'default') => ({
  installation,
  ownership: { managedTag: 'managed-by:connector-sync', adopt: false },
  database: { url, schema: 'connector_sync' },
  source: { table: 'cai_connectors', writeBackDeploymentId: true },
});

/** Prefect's variables, in memory. */
class Variables implements VariablePort {
  readonly values = new Map<string, unknown>();
  calls: string[] = [];
  failNext: Error | null = null;
  async readVariable(name: string): Promise<unknown> {
    await Promise.resolve();
    this.calls.push(`read ${name}`);
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = null;
      throw error;
    }
    return this.values.get(name) ?? null;
  }
  async createVariable(name: string, value: unknown): Promise<boolean> {
    await Promise.resolve();
    this.calls.push(`create ${name}`);
    if (this.values.has(name)) return false;
    this.values.set(name, value);
    return true;
  }
  async assertApiRoot(): Promise<void> {
    await Promise.resolve();
    this.calls.push('health');
  }
}

describe('sourceIdentity', () => {
  it('is host, port, database and table: never the user or the password', () => {
    expect(sourceIdentity(config('postgres://sync:s3cret@db.internal/app'))).toBe(
      'db.internal:5432/app cai_connectors',
    );
    expect(sourceIdentity(config('postgresql://u@10.0.0.5:6543/fleet?sslmode=require'))).toBe(
      '10.0.0.5:6543/fleet cai_connectors',
    );
  });
});

/** An installation's own schema: its identity, and whether Prefect has it. */
class Schema {
  claimed: string | null = null;
  constructor(readonly uuid: string) {}
  async read(): Promise<{ uuid: string; claimed: string | null }> {
    await Promise.resolve();
    return { uuid: this.uuid, claimed: this.claimed };
  }
  async markClaimed(variable: string): Promise<void> {
    await Promise.resolve();
    this.claimed = variable;
  }
}

describe('InstallationClaim', () => {
  const at = () => new Date('2026-12-07T12:00:00Z');
  const claimOf = (prefect: Variables, schema: Schema, url: string, name = 'default') =>
    new InstallationClaim(prefect, schema, config(url, name), at);

  it('records the identity the first time, notes it in the schema, and later processes ask Prefect nothing', async () => {
    const prefect = new Variables();
    const schema = new Schema('uuid-a');
    const claim = claimOf(prefect, schema, 'postgres://u@db/app');
    await claim.ensure(true);
    await claim.ensure(true);
    expect(prefect.calls).toEqual([`read ${claim.variable}`, `create ${claim.variable}`]);
    expect(prefect.values.get(claim.variable)).toEqual({
      installation: 'default',
      managed_tag: 'managed-by:connector-sync',
      installation_id: 'uuid-a',
      source: 'db:5432/app cai_connectors',
      registered_at: '2026-12-07T12:00:00.000Z',
    });
    expect(schema.claimed).toBe(claim.variable);
    // A new process of the same installation, even through another address.
    await claimOf(prefect, schema, 'postgres://u@10.0.0.9:6432/app').ensure(true);
    expect(prefect.calls).toHaveLength(2);
  });

  it('a dry run only reads: it records nothing', async () => {
    const prefect = new Variables();
    const schema = new Schema('uuid-a');
    await claimOf(prefect, schema, 'postgres://u@db/app').ensure(false);
    expect(prefect.values.size).toBe(0);
    expect(schema.claimed).toBeNull();
  });

  it('another installation under the same name is refused, naming both sources and the setting to change', async () => {
    const prefect = new Variables();
    await claimOf(prefect, new Schema('uuid-a'), 'postgres://u@db-a/app').ensure(true);
    const other = claimOf(prefect, new Schema('uuid-b'), 'postgres://u:pw@db-b/app');
    const refusal = await other.ensure(false).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(ConfigurationError);
    expect((refusal as Error).message).toBe(
      `installation "default" (managed tag "managed-by:connector-sync") already belongs to another installation, reading db-a:5432/app cai_connectors; this one reads db-b:5432/app cai_connectors: give this one a name of its own (installation, CONNECTOR_SYNC_INSTALLATION); if it really is the same installation moved to a new schema, delete the Prefect variable ${other.variable}`,
    );
    // Under a name of its own it goes.
    await expect(
      claimOf(prefect, new Schema('uuid-b'), 'postgres://u@db-b/app', 'team-b').ensure(true),
    ).resolves.toBeUndefined();
  });

  it('the same installation whose schema lost its note (restored from a dump) is recognised and noted again', async () => {
    const prefect = new Variables();
    const schema = new Schema('uuid-a');
    await claimOf(prefect, schema, 'postgres://u@db/app').ensure(true);
    schema.claimed = null;
    await claimOf(prefect, schema, 'postgres://u@db/app').ensure(true);
    expect(schema.claimed).not.toBeNull();
  });

  it('a Prefect that failed is asked again next time; refused credentials read as such', async () => {
    const prefect = new Variables();
    const claim = claimOf(prefect, new Schema('uuid-a'), 'postgres://u@db/app');
    prefect.failNext = new PrefectError('down', 'network', 0, null);
    await expect(claim.ensure(true)).rejects.toThrow('down');
    await expect(claim.ensure(true)).resolves.toBeUndefined();
    prefect.failNext = new PrefectError('no', 'auth', 401, null);
    const fresh = claimOf(prefect, new Schema('uuid-c'), 'postgres://u@db/other', 'c');
    await expect(fresh.ensure(true)).rejects.toThrow('Prefect refused the credentials (401)');
  });
});
