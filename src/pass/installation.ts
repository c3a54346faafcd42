import { parse as parsePostgresUrl } from 'pg-connection-string';
import type { Config } from '../config/schema.js';
import { ConfigurationError } from '../domain/errors.js';
import { ownershipVariableName } from '../domain/ownership.js';
import { PrefectError } from '../prefect/errors.js';
import { asSetupProblem } from './observe.js';

// One name, one installation (docs/concepts/ownership-and-safety.md,
// "Installations"): an installation's name and managed tag decide which
// deployments are its own, so two installations of one name (each its own
// source and schema) would take each other's deployments for orphans. The
// first to write records its identity (its schema's) and source in a Prefect
// variable; another installation under the same name is refused (exit 64)
// before it writes anything.

/** Another source has this installation's name: exit 64, and no pass of this one at all. */
export class InstallationRefused extends ConfigurationError {}

/** What the variable holds. */
interface Registration {
  installation: string;
  managed_tag: string;
  /** The installation's identity (its schema's): what tells two of one name apart. */
  installation_id: string;
  /** Where it reads its connectors, for the humans the refusal is for. */
  source: string;
  registered_at: string;
}

/** What the claim needs of Prefect. */
export interface VariablePort {
  readVariable(name: string): Promise<unknown>;
  createVariable(name: string, value: unknown, tags: string[]): Promise<boolean>;
  assertApiRoot(): Promise<void>;
}

/** What the claim needs of the installation's own schema (postgres/installation.ts). */
export interface LocalIdentity {
  read(): Promise<{ uuid: string; claimed: string | null }>;
  markClaimed(variable: string): Promise<void>;
}

/**
 * Where an installation reads its connectors: host, port, database and table.
 * No user and no password.
 */
export function sourceIdentity(config: Pick<Config, 'database' | 'source'>): string {
  const url = parsePostgresUrl(config.database.url);
  const host = url.host ?? 'localhost';
  return `${host}:${url.port || 5432}/${url.database ?? ''} ${config.source.table}`;
}

/**
 * Checks, once per process, that this installation's name is its own: the
 * first process of an installation records its identity in Prefect (`register`:
 * a process that writes) and notes in its schema that it has, so later ones
 * ask Prefect nothing; another installation's identity under the name is
 * refused. Memoised once it has succeeded; a Prefect that does not answer is
 * asked again next time.
 */
export class InstallationClaim {
  private settled: Promise<void> | null = null;

  constructor(
    private readonly prefect: VariablePort,
    private readonly local: LocalIdentity,
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
    const local = await this.local.read();
    if (local.claimed === this.variable) return;
    let found = await this.prefect.readVariable(this.variable);
    if (found === null && register) {
      const created = await this.prefect.createVariable(
        this.variable,
        this.registration(local.uuid),
        [this.config.ownership.managedTag],
      );
      // Two first passes at once: the other one won; what it wrote is what counts.
      if (created) return this.local.markClaimed(this.variable);
      found = await this.prefect.readVariable(this.variable);
    }
    if (found === null) return; // a dry run of an installation not yet recorded
    if (field(found, 'installation_id') === local.uuid) {
      if (register) await this.local.markClaimed(this.variable);
      return;
    }
    const theirs = field(found, 'source') ?? JSON.stringify(found);
    throw new InstallationRefused([
      `installation "${this.config.installation}" (managed tag "${this.config.ownership.managedTag}") already belongs to another installation, reading ${theirs}; this one reads ${sourceIdentity(this.config)}: give this one a name of its own (installation, CONNECTOR_SYNC_INSTALLATION); if it really is the same installation moved to a new schema, delete the Prefect variable ${this.variable}`,
    ]);
  }

  private registration(uuid: string): Registration {
    return {
      installation: this.config.installation,
      managed_tag: this.config.ownership.managedTag,
      installation_id: uuid,
      source: sourceIdentity(this.config),
      registered_at: this.now().toISOString(),
    };
  }
}

function field(value: unknown, name: string): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const found = (value as Record<string, unknown>)[name];
  return typeof found === 'string' ? found : null;
}
