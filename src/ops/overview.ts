import { CONNECTOR_STATUSES } from '../domain/vocabulary.js';
import { recentPasses } from '../postgres/passes.js';
import { countByStatus } from '../postgres/state.js';
import { passJson } from '../render/passes.js';
import type pg from 'pg';
import type { LoopView } from './loop-view.js';

export interface OverviewDeps {
  pool: pg.Pool;
  schema: string;
  worker: Omit<LoopView, 'lastProgress'>;
  uiUrl: string | null;
}

/**
 * The console's header: this replica's role, the fleet's counts and whether
 * Prefect answered the last pass. All of it but the role comes from Postgres,
 * so a standby shows what the leader last did.
 */
export async function overview(deps: OverviewDeps): Promise<Record<string, unknown>> {
  const [counts, passes] = await Promise.all([
    countByStatus(deps.pool, deps.schema),
    recentPasses(deps.pool, deps.schema, { limit: 1 }),
  ]);
  const last = passes[0];
  return {
    leader: deps.worker.isLeader,
    state: deps.worker.state,
    last_successful_pass_at: deps.worker.lastSuccessAt?.toISOString() ?? null,
    failed_passes_in_a_row: deps.worker.failedPassesInARow,
    statuses: CONNECTOR_STATUSES,
    counts,
    total: Object.values(counts).reduce((a, b) => a + b, 0),
    last_pass: last ? passJson(last) : null,
    prefect: {
      // A pass that ended in error or was cut short could not reach Prefect (or Postgres) well enough.
      reachable: last ? last.result === 'ok' || last.result === 'problems' : null,
      ui_url: deps.uiUrl,
    },
  };
}
