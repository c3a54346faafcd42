-- OPTIONAL, opt-in: never applied by `connector-sync migrate`.
--
-- Wakes connector-sync as soon as a connector row changes, instead of waiting
-- for the next scheduled pass: every INSERT, UPDATE or DELETE on the source
-- table sends NOTIFY connector_sync_wakeup with the connector's id, and the
-- worker reconciles just that connector (a few Prefect calls, whatever the
-- table's size). The scheduled full pass still catches anything missed.
--
-- Install (as the table's owner), adjusting the table name if yours differs:
--   psql "$DATABASE_URL" -f sql/optional/wakeup_trigger.sql
-- Remove:
--   DROP TRIGGER connector_sync_wakeup ON cai_connectors;
--   DROP FUNCTION connector_sync_notify_wakeup();
--
-- Notifications are sent when the writing transaction commits, so the worker
-- never sees a row before it is visible. One id per NOTIFY keeps each payload
-- far below Postgres's 8,000-byte limit; the worker merges a burst (debounce).

CREATE OR REPLACE FUNCTION connector_sync_notify_wakeup() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('connector_sync_wakeup', OLD.id::text);
  ELSE
    PERFORM pg_notify('connector_sync_wakeup', NEW.id::text);
    -- An UPDATE that changed the id itself wakes the old id too.
    IF TG_OP = 'UPDATE' AND OLD.id IS DISTINCT FROM NEW.id THEN
      PERFORM pg_notify('connector_sync_wakeup', OLD.id::text);
    END IF;
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS connector_sync_wakeup ON cai_connectors;
-- The worker's own write-back of prefect_deployment_id does not wake it again.
CREATE TRIGGER connector_sync_wakeup
  AFTER INSERT OR DELETE OR UPDATE OF id, name, schedule, timezone, is_active, parameters, deleted_at
  ON cai_connectors
  FOR EACH ROW EXECUTE FUNCTION connector_sync_notify_wakeup();
