-- Connectors an operator suspended (`connector-sync suspend`): the planner
-- leaves their deployments exactly as they are until `connector-sync resume`
-- deletes the row. A flag beside connector_state, not a status: the status
-- stays what the last pass found, and resuming needs nothing restored.
CREATE TABLE suspensions (
  connector_id text PRIMARY KEY,
  suspended_by text NOT NULL CHECK (suspended_by <> ''),
  reason text NOT NULL CHECK (reason <> ''),
  suspended_at timestamptz NOT NULL DEFAULT now()
);
