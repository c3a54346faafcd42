-- `connector-sync sync` / `retry` while a worker leads: the CLI writes a
-- request here and NOTIFYs connector_sync_sync; the leader reconciles the
-- connectors at once (ignoring their backoff), writes the outcome and
-- NOTIFYs connector_sync_synced. A request outlives a leader: the next one
-- serves what is still open (finished_at IS NULL).
CREATE TABLE sync_requests (
  id bigserial PRIMARY KEY,
  connector_ids text[] NOT NULL CHECK (cardinality(connector_ids) > 0),
  requested_by text NOT NULL CHECK (requested_by <> ''),
  requested_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  -- The pass that served it, and what the CLI prints: exit code, text, JSON.
  pass_id text,
  outcome jsonb,
  CHECK ((finished_at IS NULL) = (outcome IS NULL))
);
-- The leader's question, "what is still open?", reads only open requests.
CREATE INDEX sync_requests_open ON sync_requests (id) WHERE finished_at IS NULL;
-- Retention prunes finished requests by age.
CREATE INDEX sync_requests_finished ON sync_requests (finished_at) WHERE finished_at IS NOT NULL;
