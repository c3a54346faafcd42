-- Reference DDL of the source table, for development and tests.
-- connector-sync never runs this against production: the backend owns the table.
CREATE TABLE IF NOT EXISTS cai_connectors (
  id                     bigserial PRIMARY KEY,
  name                   text NOT NULL,
  schedule               text,                      -- 5-field cron; null/blank = no schedule
  timezone               text,                      -- IANA name; null = deployment.defaultTimezone
  is_active              boolean NOT NULL DEFAULT true,
  parameters             jsonb NOT NULL DEFAULT '{}'::jsonb,
  deleted_at             timestamptz,               -- soft delete
  prefect_deployment_id  uuid,                      -- written back by connector-sync
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now()
);
