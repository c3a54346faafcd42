-- A few sample connectors for the local reconcile (inserted only into an empty table).
INSERT INTO cai_connectors (name, schedule, timezone, is_active, parameters)
SELECT * FROM (VALUES
  ('Customer Data Pipeline', '0 */4 * * *', 'UTC', true, '{"source": "crm"}'::jsonb),
  ('Lab Results Import', '30 2 * * *', 'Europe/Berlin', true, '{"source": "lims", "batch_size": 500}'::jsonb),
  ('Adverse Events Feed', '*/15 * * * *', NULL, true, '{}'::jsonb),
  ('Legacy Site Export', '0 6 * * 1', 'America/New_York', false, '{"site": "legacy"}'::jsonb),
  ('Ad-hoc Registry Sync', NULL, NULL, true, '{"registry": "eu"}'::jsonb)
) AS v(name, schedule, timezone, is_active, parameters)
WHERE NOT EXISTS (SELECT 1 FROM cai_connectors);
