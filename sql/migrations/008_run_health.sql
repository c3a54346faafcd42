-- Run health (docs/concepts/how-a-pass-works.md, "Run health"): what each
-- managed deployment's runs say, as the last full pass read them from Prefect —
-- its readiness, its newest run, runs late, failed of its last runs, and one
-- verdict. A connector's sync status says Prefect took its deployment; this
-- says whether that deployment runs. Replaced whole by every full pass that
-- read it (a dry run writes nothing); a connector without a managed deployment
-- has no row.
CREATE TABLE run_health (
  connector_id        text PRIMARY KEY,
  deployment_id       uuid NOT NULL,
  readiness           text,
  health              text NOT NULL
                        CHECK (health IN ('failing', 'late', 'not-ready', 'no-runs', 'unknown',
                                          'paused', 'healthy')),
  last_run_state      text,
  last_run_state_type text,
  last_run_at         timestamptz,
  runs_late           integer NOT NULL CHECK (runs_late >= 0),
  failed_runs         integer NOT NULL CHECK (failed_runs >= 0),
  runs_considered     integer NOT NULL CHECK (runs_considered >= 0),
  checked_at          timestamptz NOT NULL
);
