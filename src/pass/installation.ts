import { parse as parsePostgresUrl } from 'pg-connection-string';
import type { Config } from '../config/schema.js';
import { ConfigurationError } from '../domain/errors.js';
import { ownershipVariableName } from '../domain/ownership.js';
import { PrefectError } from '../prefect/errors.js';
import { asSetupProblem } from './observe.js';

// One name, one source (docs/concepts/ownership-and-safety.md,
// "Installations"): an installation's name and managed tag decide which
// deployments are its own, so two installations of one name reading
// different sources would take each other's deployments for orphans. The
// first to write records its source in a Prefect variable; another source
// under the same name is refused (exit 64) before it writes anything.

/** Another source has this installation's name: exit 64, and no pass of this one at all. */
export class InstallationRefused extends ConfigurationError {}

/** What the variable holds. */
interface Registration {
  installation: string;
  managed_tag: string;
  source: string;
  registered_at: string;
}

/** What the claim needs of Prefect. */
export interface VariablePort {
  readVariable(name: string): Promise<unknown>;
  createVariable(name: string, value: unknown, tags: string[]): Promise<boolean>;
  assertApiRoot(): Promise<void>;
}

/**
 * Where an installation reads its connectors: host, port, database and table.
 * No user and no password: the same source reached as another role is the same source.
 */
export function sourceIdentity(config: Pick<Config, 'database' | 'source'>): string {
  const url = parsePostgresUrl(config.database.url);
  const host = url.host ?? 'localhost';
  return `${host}:${url.port || 5432}/${url.database ?? ''} ${config.source.table}`;
}

/**
 * Checks, once per process, that this installation's name is this source's:
 * registers it when no installation of the name has (`register`: a process
 * that writes), refuses when another source has it. Memoised once it has
 * succeeded; a Prefect that does not answer is asked again next time.
 */
export class InstallationClaim {
  private settled: Promise<void> | null = null;

  constructor(
    private readonly prefect: VariablePort,
    private readonly config: Pick<Config, 'installation' | 'ownership' | 'database' | 'source'>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The variable this installation's claim lives in. */
  get variable(): string {
    return ownershipVariableName(this.config.ownership.managedTag, this.config.installation);
  }

  ensure(register: boolean): Promise<void> {
    this.settled ??= this.check(register).catch(async (error: unknown) => {
      this.settled = null;
      // A URL that is not Prefect's API root 404s everything: said as that.
      if (error instanceof PrefectError && error.kind === 'not-found')
        await this.prefect.assertApiRoot();
      throw asSetupProblem(error);
    });
    return this.settled;
  }

  private async check(register: boolean): Promise<void> {
    const ours = sourceIdentity(this.config);
    let found = await this.prefect.readVariable(this.variable);
    if (found === null && register) {
      const registration: Registration = {
        installation: this.config.installation,
        managed_tag: this.config.ownership.managedTag,
        source: ours,
        registered_at: this.now().toISOString(),
      };
      const created = await this.prefect.createVariable(this.variable, registration, [
        this.config.ownership.managedTag,
      ]);
      // Two first passes at once: the other one won; what it wrote is what counts.
      if (created) return;
      found = await this.prefect.readVariable(this.variable);
    }
    if (found === null) return; // a dry run of an installation not yet registered
    const theirs = sourceOf(found);
    if (theirs === ours) return;
    throw new InstallationRefused([
      `installation "${this.config.installation}" (managed tag "${this.config.ownership.managedTag}") already belongs to the source ${theirs ?? JSON.stringify(found)}, not ${ours}: give this one a name of its own (installation, CONNECTOR_SYNC_INSTALLATION); if the source really moved here, delete the Prefect variable ${this.variable}`,
    ]);
  }
}

function sourceOf(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const source = (value as { source?: unknown }).source;
  return typeof source === 'string' ? source : null;
}
