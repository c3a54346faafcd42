// An operator's `sync` / `retry` / `approve-deletes` handed to the leading worker, and what it is told.

/** What the CLI prints for a served request, and exits with. */
export interface SyncOutcome {
  exitCode: number;
  text: string;
  json: Record<string, unknown>;
}

export interface SyncRequest {
  id: string;
  connectorIds: string[];
  requestedBy: string;
  /** `approve-deletes`: the held deletes (deployment ids) it approves; null for `sync` / `retry`. */
  approvedDeletes: string[] | null;
}

export interface FinishedRequest {
  passId: string | null;
  finishedAt: Date;
  outcome: SyncOutcome;
}
