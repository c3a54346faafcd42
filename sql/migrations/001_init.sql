-- connector-sync's own tables. Runs with search_path set to database.schema.

-- One row per connector the worker has seen: its sync state (docs/concepts/how-a-pass-works.md, "Per-connector state").
CREATE TABLE connector_state (
  connector_id     text PRIMARY KEY,
  deployment_id    uuid,
  deployment_name  text,
  status           text NOT NULL
                   CHECK (status IN ('synced', 'pending', 'failed', 'invalid', 'conflict', 'deleted')),
  last_error       text,
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz,
  last_synced_at   timestamptz,
  -- Hash of the row as last judged: an invalid row is not retried until it changes.
  row_hash         text,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connector_state_status ON connector_state (status);

-- The lifecycle event log (docs/concepts/event-log.md): append-only, only confirmed events.
CREATE TABLE events (
  id             uuid PRIMARY KEY,          -- UUIDv7, made by the worker when it confirms the change
  -- Commit order: taken under a transaction lock held until commit (see
  -- eventlog.ts), so a reader paging "after the last one I saw" never skips
  -- an event that committed late. ids alone are not enough: an intent made
  -- first may be confirmed last.
  seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  occurred       timestamptz NOT NULL,
  event          text NOT NULL,
  action         text NOT NULL
                 CHECK (action IN ('created', 'updated', 'paused', 'resumed', 'deleted', 'failed')),
  connector_id   text,
  deployment_id  uuid,
  resource       jsonb NOT NULL,
  related        jsonb NOT NULL DEFAULT '[]',
  payload        jsonb NOT NULL DEFAULT '{}',
  pass_id        uuid NOT NULL
);
CREATE INDEX events_occurred ON events (occurred);
CREATE INDEX events_connector ON events (connector_id, seq);
CREATE INDEX events_action ON events (action, seq);

-- Intents: a change about to be sent to Prefect. Written before the call,
-- turned into an event (and deleted) after it; one left behind by a crash is
-- settled on the next pass by reading Prefect. Never visible to dashboards.
CREATE TABLE intents (
  id             uuid PRIMARY KEY,          -- the intent's own id (the event gets a new one at confirm)
  pass_id        uuid NOT NULL,
  connector_id   text,
  action         text NOT NULL CHECK (action IN ('create', 'update', 'pause', 'resume', 'delete')),
  deployment_id  uuid,
  flow_id        uuid,
  change         jsonb NOT NULL,            -- the planned change, to settle it later
  context        jsonb NOT NULL,            -- flow / work pool the event relates to
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- Every confirmed event is announced to listeners (dashboards, `events --follow`).
CREATE FUNCTION notify_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('connector_sync_events', NEW.id::text);
  RETURN NEW;
END
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events
  FOR EACH ROW EXECUTE FUNCTION notify_event();

-- Events are facts: they may be pruned (DELETE) but never rewritten.
CREATE FUNCTION forbid_event_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'connector_sync events are append-only';
END
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE ON events
  FOR EACH ROW EXECUTE FUNCTION forbid_event_update();
