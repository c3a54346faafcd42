-- Events of connector-sync's own that Prefect does not emit (docs/concepts/event-log.md):
-- a connector that recovers, one whose delete the mass-delete guard holds back,
-- a pass that failed or was cut short.
ALTER TABLE events DROP CONSTRAINT events_action_check;
ALTER TABLE events ADD CONSTRAINT events_action_check
  CHECK (action IN ('created', 'updated', 'paused', 'resumed', 'deleted', 'failed',
                    'recovered', 'held', 'pass-failed', 'pass-aborted'));

-- Where each sink has got to in the log (an outbox cursor): every event with
-- seq <= the cursor has been delivered to it. A sink's row is made at the
-- log's end the first time the sink is enabled: it gets every event written
-- from then on, not the history before it.
CREATE TABLE sink_cursors (
  sink        text PRIMARY KEY,
  seq         bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Every real pass (dry runs write nothing): what it did and how it ended.
CREATE TABLE passes (
  id           uuid PRIMARY KEY,
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz NOT NULL,
  kind         text NOT NULL CHECK (kind IN ('full', 'targeted')),
  result       text NOT NULL CHECK (result IN ('ok', 'problems', 'aborted', 'error')),
  -- Changes applied, by action: {"create": 3, "update": 1}.
  changes      jsonb NOT NULL DEFAULT '{}',
  problems     integer NOT NULL DEFAULT 0,
  events       integer NOT NULL DEFAULT 0,
  -- Prefect calls: {"reads": 5, "writes": 4}.
  calls        jsonb NOT NULL DEFAULT '{}',
  duration_ms  integer NOT NULL,
  error        text
);
CREATE INDEX passes_started ON passes (started_at);
