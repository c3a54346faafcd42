import type { Release } from '../domain/release.js';
import { describeProgress } from '../domain/rollout.js';
import { renderColumns } from './table.js';

// `connector-sync releases` and `release show`: the ledger, newest first.

/** A release as `releases --json` and /api show it. */
export function releaseJson(release: Release, connectors: number): Record<string, unknown> {
  return {
    release: release.id,
    name: release.name,
    state: release.state,
    connectors,
    previous: release.previous,
    waves: { targets: release.waves, current: release.wave + 1, members: release.members.length },
    started_at: release.startedAt,
    finished_at: release.finishedAt,
    rolled_back_at: release.rolledBackAt,
    reason: release.reason,
  };
}

export function renderReleases(ledger: Release[], onRelease: Map<string, number>): string {
  if (ledger.length === 0) return 'No release recorded yet: run a pass first.';
  const rows = [...ledger]
    .sort((a, b) => b.seq - a.seq)
    .map((r) => [
      r.id,
      r.state,
      String(onRelease.get(r.id) ?? 0),
      r.waves.length === 0 ? '-' : `${r.wave + 1}/${r.waves.length}`,
      r.startedAt.toISOString(),
      r.finishedAt?.toISOString() ?? '-',
      r.reason ?? '',
    ]);
  return renderColumns(
    ['RELEASE', 'STATE', 'CONNECTORS', 'WAVE', 'STARTED', 'FINISHED', 'REASON'],
    rows,
  ).join('\n');
}

/** `release show`: one release whole — where it stands, its spec, its gate, its history. */
export function renderRelease(
  release: Release,
  connectors: number,
  history: { occurred: Date; event: string; payload: Record<string, unknown> }[],
): string {
  const lines = [
    `release ${release.id} — ${describeProgress(release)}`,
    `  connectors on it: ${connectors}${release.members.length > 0 ? `; given it so far: ${release.members.join(', ')}` : ''}`,
    `  previous: ${release.previous ?? '-'}   waves: ${JSON.stringify(release.waves)}`,
    `  started ${release.startedAt.toISOString()}${release.finishedAt ? `, finished ${release.finishedAt.toISOString()}` : ''}`,
  ];
  if (release.reason) lines.push(`  reason: ${release.reason}`);
  if (release.gate)
    lines.push(
      `  gate of wave ${release.gate.wave + 1} since ${release.gate.startedAt.toISOString()}:`,
      ...release.gate.runs.map(
        (r) => `    connector ${r.connectorId}: flow run ${r.flowRunId ?? '(not yet seen)'}`,
      ),
    );
  const s = release.spec;
  lines.push(
    '  spec:',
    `    version: ${s.release ?? '-'}`,
    `    entrypoint: ${s.entrypoint}`,
    `    path: ${s.path ?? '-'}`,
    `    pull_steps: ${JSON.stringify(s.pullSteps)}`,
    `    work pool / queue: ${s.workPoolName} / ${s.workQueueName}`,
    `    job_variables: ${JSON.stringify(s.jobVariables)}`,
    `    parameter schema: ${Object.keys((s.parameterSchema.properties as object | undefined) ?? {}).join(', ') || '-'}`,
  );
  if (history.length > 0)
    lines.push(
      '  history:',
      ...history.map((h) => `    ${h.occurred.toISOString()}  ${h.event}${historyNote(h.payload)}`),
    );
  return lines.join('\n');
}

function historyNote(payload: Record<string, unknown>): string {
  const text = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));
  const parts: string[] = [];
  if (payload.wave !== undefined) parts.push(`wave ${text(payload.wave)}`);
  if (payload.by) parts.push(`by ${text(payload.by)}`);
  if (payload.reason) parts.push(text(payload.reason));
  return parts.length > 0 ? `  (${parts.join('; ')})` : '';
}
