import type pg from 'pg';
import type { Release } from '../domain/release.js';
import { connectorsPerRelease, readReleases } from '../postgres/releases.js';
import { releaseJson } from '../render/releases.js';
import { onlyParams } from './queries.js';

// `GET /api/releases`: the ledger, newest first (as `connector-sync releases
// --json`), and the release in progress (rolling out or paused) with its
// waves — who is in each so far — and its gate: the runs the wave in progress
// waits for, each with its state as the worker last read it. The console
// draws it, and redraws it on every event (a pass moves it).

const MEMBERS_SHOWN = 200;

export async function releasesView(
  deps: { pool: pg.Pool; schema: string },
  params: URLSearchParams,
): Promise<Record<string, unknown>> {
  onlyParams(params, []);
  const [ledger, counts] = await Promise.all([
    readReleases(deps.pool, deps.schema),
    connectorsPerRelease(deps.pool, deps.schema),
  ]);
  const newestFirst = [...ledger].sort((a, b) => b.seq - a.seq);
  const moving = newestFirst.find((r) => r.state === 'rolling-out' || r.state === 'paused');
  return {
    releases: newestFirst.map((r) => releaseJson(r, counts.get(r.id) ?? 0)),
    in_progress: moving ? inProgressJson(moving, counts.get(moving.id) ?? 0) : null,
  };
}

function inProgressJson(r: Release, connectors: number): Record<string, unknown> {
  return {
    ...releaseJson(r, connectors),
    waves: r.waves.map((target, i) => ({
      wave: i + 1,
      target,
      state: i < r.wave ? 'passed' : i === r.wave ? (r.gate ? 'gated' : 'writing') : 'waiting',
      members: i < r.wave ? null : i === r.wave ? r.members.length - r.waveFrom : 0,
    })),
    // The wave in progress's connectors (the first 200 of them).
    wave_members: r.members.slice(r.waveFrom, r.waveFrom + MEMBERS_SHOWN),
    gate: r.gate && {
      wave: r.gate.wave + 1,
      started_at: r.gate.startedAt,
      runs: r.gate.runs.map((run) => ({
        connector_id: run.connectorId,
        deployment_id: run.deploymentId,
        flow_run_id: run.flowRunId,
        state: run.state ?? null,
      })),
    },
  };
}
