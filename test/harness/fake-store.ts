import type { EventRow } from '../../src/domain/events.js';
import type { IdKind, SourceRow, Suspension, SourceSnapshot } from '../../src/domain/types.js';
import type { PassStore } from '../../src/pass/ports.js';
import { Crasher } from './crash.js';
import type { ConnectorState } from '../../src/domain/connector-state.js';
import type { Intent } from '../../src/domain/settle.js';
import type { PassRecord } from '../../src/domain/pass-record.js';
import type { SourceHealth, SourceReading } from '../../src/domain/source-health.js';
import type { Release } from '../../src/domain/release.js';
import { ReleaseChangedError } from '../../src/domain/errors.js';
import type { RunHealth } from '../../src/domain/run-health.js';

// An in-memory store for unit tests of the pass: the source rows, connector
// states, open intents and the event log, with the transactions the real one
// has (a confirm deletes the intent, writes the states and the event at once,
// or does nothing when the intent is gone). Intents and events are kept as
// JSON, as Postgres keeps them. Never used by production code.

export class FakeStore implements PassStore {
  rows: SourceRow[] = [];
  idKind: IdKind = 'number';
  readonly states = new Map<string, ConnectorState>();
  readonly suspensions = new Map<string, Suspension>();
  readonly intents = new Map<string, Intent>();
  readonly events: EventRow[] = [];
  readonly writeBacks = new Map<string, string | null>();
  readonly passes: PassRecord[] = [];
  sourceHealth: SourceHealth = { goodRows: null, shrankSince: null };
  /** The release ledger, by id, in the order releases were first written. */
  readonly releases = new Map<string, Release>();
  readonly connectorReleases = new Map<string, string>();
  /** The last full pass's run health, by connector, and when it was read. */
  runHealth = new Map<string, RunHealth>();
  runHealthCheckedAt: Date | null = null;

  constructor(
    /** The database's clock. */
    readonly clock: { now(): Date },
    readonly crasher: Crasher = new Crasher(),
  ) {}

  async readSource(onlyIds?: string[]): Promise<SourceSnapshot> {
    await this.step('readSource');
    const rows = onlyIds ? this.rows.filter((r) => onlyIds.includes(r.id)) : this.rows;
    return {
      rows: structuredClone(rows).map((r) => ({
        ...r,
        prefectDeploymentId: this.writeBacks.get(r.id) ?? r.prefectDeploymentId,
      })),
      idKind: this.idKind,
      hasDeploymentIdColumn: true,
    };
  }

  async loadStates(): Promise<Map<string, ConnectorState>> {
    await this.step('loadStates');
    return new Map([...this.states].map(([id, s]) => [id, structuredClone(s)]));
  }

  async saveStates(states: ConnectorState[]): Promise<void> {
    await this.step('saveStates');
    this.putStates(states);
  }

  async loadSuspensions(): Promise<Map<string, Suspension>> {
    await this.step('loadSuspensions');
    return new Map(this.suspensions);
  }

  async openIntents(): Promise<Intent[]> {
    await this.step('openIntents');
    return [...this.intents.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((i) => ({ ...roundTrip(i), createdAt: i.createdAt }));
  }

  async now(): Promise<Date> {
    await this.step('now');
    return this.clock.now();
  }

  async recordIntent(intent: Omit<Intent, 'createdAt'>): Promise<void> {
    await this.step(`recordIntent ${intent.change.action} ${intent.change.connectorId ?? '-'}`);
    this.intents.set(intent.id, { ...roundTrip(intent), createdAt: this.clock.now() });
  }

  async dropIntent(id: string): Promise<void> {
    await this.step('dropIntent');
    this.intents.delete(id);
  }

  async confirmIntent(id: string, event: EventRow, states: ConnectorState[]): Promise<boolean> {
    await this.step(`confirmIntent ${event.action} ${event.connector_id ?? '-'}`);
    if (!this.intents.delete(id)) return false;
    this.putStates(states);
    this.events.push(roundTrip(event));
    return true;
  }

  async appendEvents(events: EventRow[], states: ConnectorState[]): Promise<void> {
    await this.step('appendEvents');
    this.putStates(states);
    this.events.push(...events.map(roundTrip));
  }

  async writeBackDeploymentId(connectorId: string, deploymentId: string | null): Promise<void> {
    await this.step('writeBack');
    this.writeBacks.set(connectorId, deploymentId);
  }

  async recordPass(pass: PassRecord): Promise<void> {
    await this.step('recordPass');
    this.passes.push(structuredClone(pass));
  }

  async deletesWithin(seconds: number): Promise<number> {
    await this.step('deletesWithin');
    const since = this.clock.now().getTime() - seconds * 1000;
    const made = this.events.filter(
      (e) => e.action === 'deleted' && new Date(e.occurred).getTime() > since,
    ).length;
    return made + [...this.intents.values()].filter((i) => i.change.action === 'delete').length;
  }

  async readSourceHealth(): Promise<SourceHealth> {
    await this.step('readSourceHealth');
    return { ...this.sourceHealth };
  }

  async recordSourceHealth(reading: SourceReading, events: EventRow[]): Promise<void> {
    await this.step('recordSourceHealth');
    this.sourceHealth = reading.shrank
      ? { ...this.sourceHealth, shrankSince: this.sourceHealth.shrankSince ?? this.clock.now() }
      : { goodRows: reading.rows, shrankSince: null };
    this.events.push(...events.map(roundTrip));
  }

  async readReleases(): Promise<Release[]> {
    await this.step('readReleases');
    return [...this.releases.values()].map((r) => structuredClone(r));
  }

  async saveReleases(releases: Release[], events: EventRow[]): Promise<void> {
    await this.step('saveReleases');
    const inProgress = (r: Release) => r.state === 'rolling-out' || r.state === 'paused';
    const next = new Map(this.releases);
    for (const r of releases) {
      const stored = this.releases.get(r.id);
      if (stored && stored.revision !== r.revision) throw new ReleaseChangedError(r.id);
      next.set(r.id, { ...structuredClone(r), revision: stored ? r.revision + 1 : 0 });
    }
    // The one-release-in-progress index of the real table.
    if ([...next.values()].filter(inProgress).length > 1)
      throw new Error('releases_one_in_progress: two releases in progress');
    for (const [id, r] of next) this.releases.set(id, r);
    this.events.push(...events.map(roundTrip));
  }

  async recordConnectorReleases(on: Map<string, string>, gone: string[]): Promise<void> {
    await this.step('recordConnectorReleases');
    for (const [id, release] of on) this.connectorReleases.set(id, release);
    for (const id of gone) this.connectorReleases.delete(id);
  }

  async readLastRunCompleted(): Promise<Map<string, boolean>> {
    await this.step('readLastRunCompleted');
    return new Map([...this.runHealth].map(([id, h]) => [id, h.lastRunStateType === 'COMPLETED']));
  }

  async readConnectorReleases(): Promise<Map<string, string>> {
    await this.step('readConnectorReleases');
    return new Map(this.connectorReleases);
  }

  async recordRunHealth(rows: RunHealth[], checkedAt: Date): Promise<void> {
    await this.step('recordRunHealth');
    this.runHealth = new Map(rows.map((r) => [r.connectorId, structuredClone(r)]));
    this.runHealthCheckedAt = checkedAt;
  }

  private putStates(states: ConnectorState[]): void {
    for (const s of states) this.states.set(s.connectorId, structuredClone(s));
  }

  private async step(label: string): Promise<void> {
    await Promise.resolve();
    this.crasher.step(`store ${label}`);
  }
}

/** A value as it comes back from a jsonb column (dates become strings and back). */
function roundTrip<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), (key, v: unknown) =>
    key === 'occurred' && typeof v === 'string' ? new Date(v) : v,
  ) as T;
}
