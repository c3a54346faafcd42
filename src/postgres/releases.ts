import type pg from 'pg';
import type { EventRow } from '../domain/events.js';
import type { Gate, Release, ReleaseSpec, ReleaseState, WaveTarget } from '../domain/release.js';
import { insertEvents } from './eventlog.js';
import { ReleaseChangedError } from '../domain/errors.js';
import { quoteIdent, withTransaction, type Queryable } from './pool.js';

// The release ledger (<schema>.releases) and the release each connector is on
// (<schema>.connector_releases). Parameterised SQL only.

interface ReleaseRecord {
  id: string;
  seq: string;
  name: string;
  spec_hash: string;
  spec: ReleaseSpec;
  state: ReleaseState;
  previous: string | null;
  waves: WaveTarget[];
  wave: number;
  members: string[];
  wave_from: number;
  gate: { wave: number; startedAt: string; runs: Gate['runs'] } | null;
  reason: string | null;
  started_at: Date;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  revision: number;
}

function fromRecord(r: ReleaseRecord): Release {
  return {
    id: r.id,
    seq: Number(r.seq),
    name: r.name,
    specHash: r.spec_hash,
    spec: r.spec,
    state: r.state,
    previous: r.previous,
    waves: r.waves,
    wave: r.wave,
    members: r.members,
    waveFrom: r.wave_from,
    gate: r.gate ? { ...r.gate, startedAt: new Date(r.gate.startedAt) } : null,
    reason: r.reason,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    rolledBackAt: r.rolled_back_at,
    revision: r.revision,
  };
}

/** The whole ledger, oldest first. */
export async function readReleases(db: Queryable, schema: string): Promise<Release[]> {
  const { rows } = await db.query<ReleaseRecord>(
    `SELECT * FROM ${quoteIdent(schema)}.releases ORDER BY seq`,
  );
  return rows.map(fromRecord);
}

/**
 * Writes releases as given (new ones inserted, known ones updated) with their
 * events, in one transaction: a release's state and its event never part.
 */
export async function saveReleases(
  pool: pg.Pool,
  schema: string,
  releases: Release[],
  events: EventRow[],
): Promise<void> {
  if (releases.length === 0 && events.length === 0) return;
  await withTransaction(pool, async (client) => {
    // Updates first: a superseded release leaves "in progress" before the new one enters it.
    const known = new Set(
      (
        await client.query<{ id: string }>(
          `SELECT id FROM ${quoteIdent(schema)}.releases WHERE id = ANY($1::text[])`,
          [releases.map((r) => r.id)],
        )
      ).rows.map((r) => r.id),
    );
    for (const release of releases.filter((r) => known.has(r.id)))
      await updateRelease(client, schema, release);
    for (const release of releases.filter((r) => !known.has(r.id)))
      await insertRelease(client, schema, release);
    await insertEvents(client, schema, events);
  });
}

async function insertRelease(db: Queryable, schema: string, r: Release): Promise<void> {
  await db.query(
    `INSERT INTO ${quoteIdent(schema)}.releases
       (id, name, spec_hash, spec, state, previous, waves, wave, members, gate, reason,
        started_at, finished_at, rolled_back_at, wave_from)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
    [
      r.id,
      r.name,
      r.specHash,
      JSON.stringify(r.spec),
      r.state,
      r.previous,
      JSON.stringify(r.waves),
      r.wave,
      r.members,
      r.gate ? JSON.stringify(r.gate) : null,
      r.reason,
      r.startedAt,
      r.finishedAt,
      r.rolledBackAt,
      r.waveFrom,
    ],
  );
}

async function updateRelease(db: Queryable, schema: string, r: Release): Promise<void> {
  const { rowCount } = await db.query(
    `UPDATE ${quoteIdent(schema)}.releases
        SET state = $2, wave = $3, members = $4, gate = $5, reason = $6, finished_at = $7,
            rolled_back_at = $8, previous = $9, wave_from = $10, revision = revision + 1
      WHERE id = $1 AND revision = $11`,
    [
      r.id,
      r.state,
      r.wave,
      r.members,
      r.gate ? JSON.stringify(r.gate) : null,
      r.reason,
      r.finishedAt,
      r.rolledBackAt,
      r.previous,
      r.waveFrom,
      r.revision,
    ],
  );
  if (rowCount !== 1) throw new ReleaseChangedError(r.id);
}

/** The release each connector is on, as the last full pass found it (every one's, or those of `ids`). */
export async function readConnectorReleases(
  db: Queryable,
  schema: string,
  ids?: readonly string[],
): Promise<Map<string, string>> {
  const { rows } = await db.query<{ connector_id: string; release: string }>(
    `SELECT connector_id, release FROM ${quoteIdent(schema)}.connector_releases
      ${ids ? 'WHERE connector_id = ANY($1::text[])' : ''}`,
    ids ? [ids] : [],
  );
  return new Map(rows.map((r) => [r.connector_id, r.release]));
}

/** Records where connectors are now (only those that moved), and forgets those gone. */
export async function recordConnectorReleases(
  db: Queryable,
  schema: string,
  on: Map<string, string>,
  gone: string[],
): Promise<void> {
  const s = quoteIdent(schema);
  if (on.size > 0)
    await db.query(
      `INSERT INTO ${s}.connector_releases (connector_id, release)
       SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (connector_id) DO UPDATE SET release = EXCLUDED.release, since = now()
        WHERE ${s}.connector_releases.release IS DISTINCT FROM EXCLUDED.release`,
      [[...on.keys()], [...on.values()]],
    );
  if (gone.length > 0)
    await db.query(`DELETE FROM ${s}.connector_releases WHERE connector_id = ANY($1::text[])`, [
      gone,
    ]);
}

/** How many connectors are on each release. */
export async function connectorsPerRelease(
  db: Queryable,
  schema: string,
): Promise<Map<string, number>> {
  const { rows } = await db.query<{ release: string; n: number }>(
    `SELECT release, count(*)::int AS n FROM ${quoteIdent(schema)}.connector_releases GROUP BY release`,
  );
  return new Map(rows.map((r) => [r.release, r.n]));
}

/** A release's events, oldest first. */
export async function releaseHistory(
  db: Queryable,
  schema: string,
  releaseId: string,
): Promise<{ occurred: Date; event: string; payload: Record<string, unknown> }[]> {
  const { rows } = await db.query<{
    occurred: Date;
    event: string;
    payload: Record<string, unknown>;
  }>(
    `SELECT occurred, event, payload FROM ${quoteIdent(schema)}.events
      WHERE action LIKE 'release-%' AND resource->>'prefect.resource.id' = $1
      ORDER BY seq`,
    [`connector-sync.release.${releaseId}`],
  );
  return rows;
}
