import type { PrefectClient } from '../prefect/client.js';
import type { PrefectEvent } from './prefect-events.js';

/** Work pools change rarely: their ids are read again after this long, or on a name not seen. */
const POOLS_TTL_MS = 5 * 60 * 1000;
const DEPLOYMENT_PREFIX = 'prefect.deployment.';

/**
 * Adds the work pool to events about a connector that name its deployment
 * but not its pool (the pass reads pools only when it writes, and a pass must
 * not make a call for the publisher). Read by the sink: one deployments
 * filter per batch, and the pools once in a while.
 */
export class PoolLookup {
  private pools: { byName: Map<string, string>; readAt: number } | null = null;

  constructor(private readonly prefect: PrefectClient) {}

  async withPools(events: PrefectEvent[]): Promise<PrefectEvent[]> {
    const wanting = events.filter((e) => deploymentOf(e) !== null && !hasRole(e, 'work-pool'));
    if (wanting.length === 0) return events;
    const poolOf = await this.prefect.workPoolNamesOf([
      ...new Set(wanting.map((e) => deploymentOf(e)!)),
    ]);
    const names = [...new Set(poolOf.values())];
    const ids = await this.poolIds(names);
    return events.map((e) => {
      const deployment = deploymentOf(e);
      const name = deployment === null ? undefined : poolOf.get(deployment);
      const id = name === undefined ? undefined : ids.get(name);
      if (!wanting.includes(e) || name === undefined || id === undefined) return e;
      const pool = {
        'prefect.resource.id': `prefect.work-pool.${id}`,
        'prefect.resource.role': 'work-pool',
        'prefect.resource.name': name,
      };
      return { ...e, related: [...e.related, pool] };
    });
  }

  private async poolIds(names: string[]): Promise<Map<string, string>> {
    const fresh = this.pools && Date.now() - this.pools.readAt < POOLS_TTL_MS;
    if (!fresh || names.some((n) => !this.pools!.byName.has(n))) {
      this.pools = { byName: await this.prefect.listWorkPools(), readAt: Date.now() };
    }
    return this.pools!.byName;
  }
}

function deploymentOf(e: PrefectEvent): string | null {
  const related = e.related.find((r) => r['prefect.resource.role'] === 'deployment');
  const id = related?.['prefect.resource.id'];
  return typeof id === 'string' && id.startsWith(DEPLOYMENT_PREFIX)
    ? id.slice(DEPLOYMENT_PREFIX.length)
    : null;
}

function hasRole(e: PrefectEvent, role: string): boolean {
  return e.related.some((r) => r['prefect.resource.role'] === role);
}
