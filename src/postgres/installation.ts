import { quoteIdent, type Queryable } from './pool.js';

// <schema>.installation: this installation's identity, made with its schema
// (docs/concepts/ownership-and-safety.md, "Installations"), and the Prefect
// variable that records it once Prefect has it.

export interface LocalInstallation {
  uuid: string;
  /** The Prefect variable this identity is recorded in; null until it is. */
  claimed: string | null;
}

export async function readInstallation(db: Queryable, schema: string): Promise<LocalInstallation> {
  const { rows } = await db.query<{ uuid: string; claimed: string | null }>(
    `SELECT uuid::text, claimed FROM ${quoteIdent(schema)}.installation`,
  );
  const row = rows[0];
  if (!row) throw new Error(`${schema}.installation has no row: run connector-sync migrate`);
  return row;
}

export async function markClaimed(db: Queryable, schema: string, variable: string): Promise<void> {
  await db.query(`UPDATE ${quoteIdent(schema)}.installation SET claimed = $1`, [variable]);
}
