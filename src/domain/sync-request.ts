// An operator's `sync` / `retry` handed to the leading worker, and what it is told.

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
}

export interface FinishedRequest {
  passId: string | null;
  finishedAt: Date;
  outcome: SyncOutcome;
}
