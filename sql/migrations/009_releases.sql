-- The release ledger (docs/concepts/releases.md): every release the fleet has
-- been given, with its full fleet-wide spec, so that any earlier one can be
-- given back after Prefect's template has moved on; its state and how far it
-- has rolled out. At most one release is in progress at a time.
CREATE TABLE releases (
  id              text PRIMARY KEY,
  seq             bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  name            text NOT NULL,
  spec_hash       text NOT NULL UNIQUE,
  spec            jsonb NOT NULL,
  state           text NOT NULL
                  CHECK (state IN ('rolling-out', 'paused', 'complete', 'failed', 'rolled-back', 'superseded')),
  previous        text REFERENCES releases (id),
  waves           jsonb NOT NULL,
  wave            integer NOT NULL DEFAULT 0,
  -- The connectors given the release so far, in the order they were chosen.
  members         text[] NOT NULL DEFAULT '{}',
  -- Where the wave in progress starts in members.
  wave_from       integer NOT NULL DEFAULT 0,
  -- The runs the wave in progress waits for: {wave, startedAt, runs: [{connectorId, deploymentId, flowRunId}]}.
  gate            jsonb,
  reason          text,
  started_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz,
  rolled_back_at  timestamptz,
  -- Bumped by every write: the worker and an operator's command never
  -- overwrite each other's change unseen (a write from an older reading is refused).
  revision        integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX releases_one_in_progress ON releases ((true))
  WHERE state IN ('rolling-out', 'paused');

-- The release each connector's deployment is on, as the last full pass found it.
CREATE TABLE connector_releases (
  connector_id  text PRIMARY KEY,
  release       text NOT NULL REFERENCES releases (id),
  since         timestamptz NOT NULL DEFAULT now()
);

-- Releases write their own events (release-started … release-completed).
ALTER TABLE events DROP CONSTRAINT events_action_check;
ALTER TABLE events ADD CONSTRAINT events_action_check
  CHECK (action IN ('created', 'updated', 'paused', 'resumed', 'deleted', 'failed',
                    'recovered', 'held', 'pass-failed', 'pass-aborted', 'source-shrank',
                    'release-started', 'release-wave-passed', 'release-paused',
                    'release-resumed', 'release-failed', 'release-rolled-back',
                    'release-completed'));
