-- Views for dashboards (docs/guides/operating.md, "Dashboard"): what config/grafana/connector-sync.json
-- reads through a Postgres data source, so that a read-only role needs SELECT on
-- these and nothing of the tables' layout. Hours are UTC hours.

-- Connectors by sync status, as `connector-sync status` counts them.
CREATE VIEW status_counts AS
  SELECT status, count(*)::integer AS connectors
    FROM connector_state
   GROUP BY status;

-- Changes made to deployments (one event each), by hour and action.
CREATE VIEW changes_per_hour AS
  SELECT date_trunc('hour', occurred AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
         action,
         count(*)::integer AS changes
    FROM events
   WHERE action IN ('created', 'updated', 'paused', 'resumed', 'deleted')
   GROUP BY 1, 2;

-- Real passes, by hour (of their start), kind and result.
CREATE VIEW passes_per_hour AS
  SELECT date_trunc('hour', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
         kind,
         result,
         count(*)::integer AS passes,
         round(avg(duration_ms))::integer AS avg_duration_ms,
         max(duration_ms) AS max_duration_ms
    FROM passes
   GROUP BY 1, 2, 3;

-- Connectors that need someone: failing, invalid, in conflict, or held back by
-- the mass-delete guard, with the problem as the worker last saw it.
CREATE VIEW connector_problems AS
  SELECT connector_id, status, last_error, attempts, next_attempt_at, deployment_name, updated_at
    FROM connector_state
   WHERE status IN ('failed', 'invalid', 'conflict', 'held');
