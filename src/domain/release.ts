import { createHash } from 'node:crypto';
import type { DesiredSettings } from './desired.js';
import { canonicalJson } from './json.js';

// Releases (docs/concepts/releases.md): the fleet-wide part of every
// connector's spec — what the template and the configuration give, not a
// row — kept in a ledger so that any earlier one can be given back, and
// rolled out in waves that pass on the evidence of the runs they produce.

/** What a release gives every connector's deployment. */
export type ReleaseSpec = Pick<
  DesiredSettings,
  | 'release'
  | 'workPoolName'
  | 'workQueueName'
  | 'entrypoint'
  | 'path'
  | 'pullSteps'
  | 'jobVariables'
  | 'parameterSchema'
  | 'enforceParameterSchema'
  | 'concurrencyLimit'
  | 'collisionStrategy'
  | 'tags'
>;

export const RELEASE_STATES = [
  'rolling-out',
  'paused',
  'complete',
  'failed',
  'rolled-back',
  'superseded',
] as const;
export type ReleaseState = (typeof RELEASE_STATES)[number];

/** A wave's cumulative target: a count of connectors, or a share such as "10%". */
export type WaveTarget = number | string;

/** One run a wave is judged by; flowRunId is null until `verify: scheduled` has seen it. */
export interface GateRun {
  connectorId: string;
  deploymentId: string;
  flowRunId: string | null;
  /** The run's state type as last read. */
  state?: string | null;
}

/** The evidence a wave waits for once every connector of it is written. */
export interface Gate {
  wave: number;
  startedAt: Date;
  runs: GateRun[];
}

/** One row of the ledger (<schema>.releases). */
export interface Release {
  id: string;
  /** The template's version (or deployment.version), or a short hash of the spec without either. */
  name: string;
  specHash: string;
  spec: ReleaseSpec;
  state: ReleaseState;
  /** The release its connectors come from and, if it fails, go back to. */
  previous: string | null;
  waves: WaveTarget[];
  /** The index of the wave in progress. */
  wave: number;
  /** The connectors given the release so far, in the order they were chosen. */
  members: string[];
  /** Where the wave in progress starts in `members`. */
  waveFrom: number;
  gate: Gate | null;
  reason: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  /** When a failed release's connectors were all back on the previous one. */
  rolledBackAt: Date | null;
  seq: number;
  /** Bumped by every write: a write made from an older reading is refused (an operator acted meanwhile). */
  revision: number;
}

/** What a full pass leaves for the metrics: the releases that matter now, and who is on which. */
export interface ReleaseView {
  /** The in-progress, the template's and the last good release (each once). */
  shown: Pick<Release, 'id' | 'state'>[];
  /** Release → connectors on it. */
  connectors: Map<string, number>;
  inProgress: string | null;
  /** How long the release in progress has been at it (0 when none is). */
  rollingOutSeconds: number;
  /** The template's release, and whether it failed (the fleet stays behind it). */
  target: { id: string; failed: boolean };
  /** The gate runs of the release in progress, by state. */
  gateRuns: Record<string, number>;
}

export function releaseSpecOf(settings: DesiredSettings): ReleaseSpec {
  return {
    release: settings.release,
    workPoolName: settings.workPoolName,
    workQueueName: settings.workQueueName,
    entrypoint: settings.entrypoint,
    path: settings.path,
    pullSteps: settings.pullSteps,
    jobVariables: settings.jobVariables,
    parameterSchema: settings.parameterSchema,
    enforceParameterSchema: settings.enforceParameterSchema,
    concurrencyLimit: settings.concurrencyLimit,
    collisionStrategy: settings.collisionStrategy,
    tags: settings.tags,
  };
}

/** The settings of a connector on `spec`: what is not a release's stays the installation's. */
export function settingsOn(settings: DesiredSettings, spec: ReleaseSpec): DesiredSettings {
  return { ...settings, ...spec };
}

export function specHashOf(spec: ReleaseSpec): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex').slice(0, 16);
}

/**
 * A release's id: its name, unless the ledger has that name for another spec
 * (a version registered twice with different code): then `name~hash`.
 */
export function releaseIdFor(spec: ReleaseSpec, hash: string, ledger: Release[]): string {
  const name = spec.release ?? hash.slice(0, 8);
  const taken = ledger.find((r) => r.id === name);
  return taken && taken.specHash !== hash ? `${name}~${hash.slice(0, 6)}` : name;
}

/** The release the fleet rests on: the newest complete one (null before the ledger has one). */
export function lastGood(ledger: Release[]): Release | null {
  let good: Release | null = null;
  for (const r of ledger) if (r.state === 'complete' && (!good || r.seq > good.seq)) good = r;
  return good;
}

/** The release being rolled out (or paused half-way), if any: at most one. */
export function inProgress(ledger: Release[]): Release | null {
  return ledger.find((r) => r.state === 'rolling-out' || r.state === 'paused') ?? null;
}

/**
 * The release each connector is given: the one in progress for its members,
 * the last good one for everyone else (new connectors included); with no
 * ledger yet, `fallback` (today's template) for all.
 */
export function assignmentOf(
  ledger: Release[],
  fallback: ReleaseSpec,
): (connectorId: string) => { id: string | null; spec: ReleaseSpec } {
  const good = lastGood(ledger);
  const rolling = inProgress(ledger);
  const members = new Set(rolling?.members ?? []);
  const base = good ? { id: good.id, spec: good.spec } : { id: null, spec: fallback };
  return (connectorId) =>
    rolling && members.has(connectorId) ? { id: rolling.id, spec: rolling.spec } : base;
}

/** How many connectors a wave's target covers (cumulative), out of `fleet`; at least one. */
export function waveCount(target: WaveTarget, fleet: number): number {
  if (fleet === 0) return 0;
  const n =
    typeof target === 'number'
      ? target
      : Math.ceil((Number(target.replace('%', '')) / 100) * fleet);
  return Math.min(fleet, Math.max(1, n));
}

/** The wave number operators read (1-based) and the waves there are: "wave 2 of 3". */
export function waveLabel(release: Pick<Release, 'wave' | 'waves'>): string {
  return `wave ${release.wave + 1} of ${release.waves.length}`;
}

/** The releases the metrics show, and the gate runs of the one in progress by state. */
export function releaseViewOf(
  ledger: Release[],
  target: { id: string; specHash: string },
  connectors: Map<string, number>,
  now: Date,
): ReleaseView {
  const targetHash = target.specHash;
  const rolling = inProgress(ledger);
  const template = ledger.find((r) => r.specHash === targetHash) ?? null;
  const shown = new Map<string, Release>();
  for (const r of [rolling, template, lastGood(ledger)]) if (r) shown.set(r.id, r);
  const gateRuns: Record<string, number> = {};
  for (const run of rolling?.gate?.runs ?? []) {
    const state = run.flowRunId === null ? 'unseen' : (run.state ?? 'SCHEDULED');
    gateRuns[state] = (gateRuns[state] ?? 0) + 1;
  }
  const failed = target && ledger.find((r) => r.specHash === targetHash)?.state === 'failed';
  return {
    shown: [...shown.values()].map((r) => ({ id: r.id, state: r.state })),
    connectors,
    inProgress: rolling?.id ?? null,
    rollingOutSeconds: rolling
      ? Math.max(0, (now.getTime() - rolling.startedAt.getTime()) / 1000)
      : 0,
    target: { id: target.id, failed: failed === true },
    gateRuns,
  };
}
