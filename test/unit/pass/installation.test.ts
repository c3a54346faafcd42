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

describe('InstallationClaim', () => {
  const at = () => new Date('2026-12-07T12:00:00Z');

  it('registers the source the first time, and asks Prefect no more in that process', async () => {
    const prefect = new Variables();
    const claim = new InstallationClaim(prefect, config('postgres://u@db/app'), at);
    await claim.ensure(true);
    await claim.ensure(true);
    expect(prefect.calls).toEqual([`read ${claim.variable}`, `create ${claim.variable}`]);
    expect(prefect.values.get(claim.variable)).toEqual({
      installation: 'default',
      managed_tag: 'managed-by:connector-sync',
      source: 'db:5432/app cai_connectors',
      registered_at: '2026-12-07T12:00:00.000Z',
    });
  });

  it('a dry run only reads: it registers nothing', async () => {
    const prefect = new Variables();
    await new InstallationClaim(prefect, config('postgres://u@db/app'), at).ensure(false);
    expect(prefect.values.size).toBe(0);
  });

  it('the same source under another role is the same installation', async () => {
    const prefect = new Variables();
    await new InstallationClaim(prefect, config('postgres://a@db/app'), at).ensure(true);
    await expect(
      new InstallationClaim(prefect, config('postgres://b:pw@db/app'), at).ensure(true),
    ).resolves.toBeUndefined();
  });

  it('another source under the same name is refused, naming both and the setting to change', async () => {
    const prefect = new Variables();
    await new InstallationClaim(prefect, config('postgres://u@db-a/app'), at).ensure(true);
    const other = new InstallationClaim(prefect, config('postgres://u:pw@db-b/app'), at);
    const refusal = await other.ensure(false).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(ConfigurationError);
    expect((refusal as Error).message).toBe(
      `installation "default" (managed tag "managed-by:connector-sync") already belongs to the source db-a:5432/app cai_connectors, not db-b:5432/app cai_connectors: give this one a name of its own (installation, CONNECTOR_SYNC_INSTALLATION); if the source really moved here, delete the Prefect variable ${other.variable}`,
    );
    // Under a name of its own it goes.
    await expect(
      new InstallationClaim(prefect, config('postgres://u@db-b/app', 'team-b'), at).ensure(true),
    ).resolves.toBeUndefined();
  });

  it('a Prefect that failed is asked again next time; refused credentials read as such', async () => {
    const prefect = new Variables();
    const claim = new InstallationClaim(prefect, config('postgres://u@db/app'), at);
    prefect.failNext = new PrefectError('down', 'network', 0, null);
    await expect(claim.ensure(true)).rejects.toThrow('down');
    await expect(claim.ensure(true)).resolves.toBeUndefined();
    prefect.failNext = new PrefectError('no', 'auth', 401, null);
    const fresh = new InstallationClaim(prefect, config('postgres://u@db/other'), at);
    await expect(fresh.ensure(true)).rejects.toThrow('Prefect refused the credentials (401)');
  });
});
