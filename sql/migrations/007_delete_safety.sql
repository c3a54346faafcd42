-- The source check (docs/concepts/ownership-and-safety.md): what the worker
-- remembers of the source between full passes. One row. good_rows is the
-- number of rows the last full pass that found the source healthy read; a
-- later pass that reads far fewer (or none) holds every delete instead of
-- emptying the fleet. Not pruned with the pass history: a long outage of the
-- source must not make it forget what healthy looked like.
CREATE TABLE source_health (
  id            boolean PRIMARY KEY DEFAULT true CHECK (id),
  good_rows     integer NOT NULL CHECK (good_rows >= 0),
  good_at       timestamptz NOT NULL,
  -- Since when the source has looked shrunk (NULL while it looks healthy), and
  -- how many rows it read then: the episode's one event and WARN line.
  shrank_since  timestamptz,
  shrank_rows   integer CHECK (shrank_rows >= 0)
);

-- A source that shrank past its limit is one fleet-wide event per episode.
ALTER TABLE events DROP CONSTRAINT events_action_check;
ALTER TABLE events ADD CONSTRAINT events_action_check
  CHECK (action IN ('created', 'updated', 'paused', 'resumed', 'deleted', 'failed',
                    'recovered', 'held', 'pass-failed', 'pass-aborted', 'source-shrank'));

-- The delete budget counts the deletes of a sliding window from the log.
CREATE INDEX events_deleted ON events (occurred) WHERE action = 'deleted';

-- `connector-sync approve-deletes` hands the leader an approval: the held
-- deletes it listed, by deployment id. Such a request may name no connector
-- (an orphan's delete has none).
ALTER TABLE sync_requests ADD COLUMN approved_deletes uuid[];
ALTER TABLE sync_requests DROP CONSTRAINT sync_requests_connector_ids_check;
ALTER TABLE sync_requests ADD CONSTRAINT sync_requests_asks_something
  CHECK (cardinality(connector_ids) > 0 OR cardinality(approved_deletes) > 0);

-- This installation's identity (docs/concepts/ownership-and-safety.md,
-- "Installations"): made with its schema, it is what a Prefect variable per
-- installation name records, so another installation of the same name (another
-- schema) is told apart however it reaches Postgres. `claimed` names the
-- variable once Prefect has it: later processes need not ask again.
CREATE TABLE installation (
  id          boolean PRIMARY KEY DEFAULT true CHECK (id),
  uuid        uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at  timestamptz NOT NULL DEFAULT now(),
  claimed     text
);
INSERT INTO installation DEFAULT VALUES;
