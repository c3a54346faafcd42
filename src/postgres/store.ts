import type pg from 'pg';
import type { EventRow } from '../domain/events.js';
import {
  appendEvents,
  confirmIntent,
  databaseNow,
  dropIntent,
  openIntents,
  recordIntent,
} from './eventlog.js';
import { insertPass } from './passes.js';
import { deletesWithin, readSourceHealth, recordSourceHealth } from './delete-safety.js';
import type { SourceHealth, SourceReading } from '../domain/source-health.js';
import { readSource, writeBackDeploymentId } from './source.js';
import { loadStates, saveStates } from './state.js';
import { loadSuspensions } from './suspensions.js';
import type { Suspension, SourceSnapshot } from '../domain/types.js';
import type { ConnectorState } from '../domain/connector-state.js';
import type { Intent } from '../domain/settle.js';
import type { PassRecord } from '../domain/pass-record.js';
import type { Release } from '../domain/release.js';
import {
  readConnectorReleases,
  readReleases,
  recordConnectorReleases,
  saveReleases,
} from './releases.js';
import type { RunHealth } from '../domain/run-health.js';
import { loadRunHealth, replaceRunHealth } from './run-health.js';

/**
 * What a pass reads and writes in Postgres (reconcile/ports.ts PassStore):
 * the source table and the worker's own schema, through one pool.
 */
export class PostgresStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
    private readonly table: string,
  ) {}

  readSource(onlyIds?: string[]): Promise<SourceSnapshot> {
    return readSource(this.pool, this.table, onlyIds);
  }

  loadStates(): Promise<Map<string, ConnectorState>> {
    return loadStates(this.pool, this.schema);
  }

  saveStates(states: ConnectorState[]): Promise<void> {
    return saveStates(this.pool, this.schema, states);
  }

  loadSuspensions(): Promise<Map<string, Suspension>> {
    return loadSuspensions(this.pool, this.schema);
  }

  openIntents(): Promise<Intent[]> {
    return openIntents(this.pool, this.schema);
  }

  now(): Promise<Date> {
    return databaseNow(this.pool);
  }

  recordIntent(intent: Omit<Intent, 'createdAt'>): Promise<void> {
    return recordIntent(this.pool, this.schema, intent);
  }

  dropIntent(id: string): Promise<void> {
    return dropIntent(this.pool, this.schema, id);
  }

  confirmIntent(id: string, event: EventRow, states: ConnectorState[]): Promise<boolean> {
    return confirmIntent(this.pool, this.schema, id, event, states);
  }

  appendEvents(events: EventRow[], states: ConnectorState[]): Promise<void> {
    return appendEvents(this.pool, this.schema, events, states);
  }

  writeBackDeploymentId(connectorId: string, deploymentId: string | null): Promise<void> {
    return writeBackDeploymentId(this.pool, this.table, connectorId, deploymentId);
  }

  recordPass(pass: PassRecord): Promise<void> {
    return insertPass(this.pool, this.schema, pass);
  }

  readReleases(): Promise<Release[]> {
    return readReleases(this.pool, this.schema);
  }

  saveReleases(releases: Release[], events: EventRow[]): Promise<void> {
    return saveReleases(this.pool, this.schema, releases, events);
  }

  recordConnectorReleases(on: Map<string, string>, gone: string[]): Promise<void> {
    return recordConnectorReleases(this.pool, this.schema, on, gone);
  }

  readConnectorReleases(): Promise<Map<string, string>> {
    return readConnectorReleases(this.pool, this.schema);
  }

  async readLastRunCompleted(): Promise<Map<string, boolean>> {
    const health = await loadRunHealth(this.pool, this.schema);
    return new Map([...health].map(([id, h]) => [id, h.lastRunStateType === 'COMPLETED']));
  }

  deletesWithin(seconds: number): Promise<number> {
    return deletesWithin(this.pool, this.schema, seconds);
  }

  readSourceHealth(): Promise<SourceHealth> {
    return readSourceHealth(this.pool, this.schema);
  }

  recordSourceHealth(reading: SourceReading, events: EventRow[]): Promise<void> {
    return recordSourceHealth(this.pool, this.schema, reading, events);
  }

  recordRunHealth(rows: RunHealth[], checkedAt: Date): Promise<void> {
    return replaceRunHealth(this.pool, this.schema, rows, checkedAt);
  }
}
