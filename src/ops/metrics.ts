import type { ReleaseView } from '../domain/release.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The worker's Prometheus metrics, on a registry of their own. */
export class Metrics {
  readonly registry = new Registry();
  readonly passes = new Counter({
    name: 'connector_sync_passes_total',
    help: 'Reconcile passes, by result (ok, problems, aborted, error) and kind (full, targeted)',
    labelNames: ['result', 'kind'] as const,
    registers: [this.registry],
  });
  readonly passDuration = new Histogram({
    name: 'connector_sync_pass_duration_seconds',
    help: 'Duration of reconcile passes',
    labelNames: ['kind'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly changes = new Counter({
    name: 'connector_sync_changes_total',
    help: 'Changes applied to Prefect, by action',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  readonly connectors = new Gauge({
    name: 'connector_sync_connectors',
    help: 'Connectors by sync status (after every pass, however it ended)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly prefectRequests = new Counter({
    name: 'connector_sync_prefect_requests_total',
    help: 'HTTP requests to Prefect, by method, route and status ("error" when no answer came)',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly prefectDuration = new Histogram({
    name: 'connector_sync_prefect_request_duration_seconds',
    help: 'Duration of HTTP requests to Prefect',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly heldDeletes = new Gauge({
    name: 'connector_sync_held_deletes',
    help: 'Deletes a delete guard held back in the last full pass (any rule)',
    registers: [this.registry],
  });
  readonly heldDeletesByRule = new Gauge({
    name: 'connector_sync_held_deletes_by_rule',
    help: 'Deletes held back in the last full pass, by the rule that held them: per-pass (maxDeletesPerPass), budget (deleteBudget), source-shrank (sourceShrinkLimit)',
    labelNames: ['rule'] as const,
    registers: [this.registry],
  });
  readonly sourceShrunk = new Gauge({
    name: 'connector_sync_source_shrunk',
    help: '1 while the last full pass found the source shrunk past reconcile.sourceShrinkLimit (every delete held), else 0',
    registers: [this.registry],
  });
  readonly connectorRuns = new Gauge({
    name: 'connector_sync_connector_runs',
    help: "Connectors by run health (failing, late, not-ready, no-runs, unknown, paused, healthy), as the last full pass read their deployments' runs",
    labelNames: ['health'] as const,
    registers: [this.registry],
  });
  readonly runsLate = new Gauge({
    name: 'connector_sync_runs_late',
    help: 'Runs of the managed deployments still scheduled past their expected start (no worker took them), as the last full pass read them',
    registers: [this.registry],
  });
  readonly releaseConnectors = new Gauge({
    name: 'connector_sync_release_connectors',
    help: 'Connectors whose deployment is on each release, as the last full pass found them',
    labelNames: ['release'] as const,
    registers: [this.registry],
  });
  readonly releaseState = new Gauge({
    name: 'connector_sync_release_state',
    help: "1 for the state of each release that matters now — the one in progress, the template's, the last good one — else absent (rolling-out, paused, complete, failed, rolled-back, superseded)",
    labelNames: ['release', 'state'] as const,
    registers: [this.registry],
  });
  readonly releaseFailed = new Gauge({
    name: 'connector_sync_release_failed',
    help: "1 when the template's release failed (a wave's gate, or an operator's abort) and the fleet stays on the last good release, else 0; labelled with the template's release",
    labelNames: ['release'] as const,
    registers: [this.registry],
  });
  readonly releaseRollingOutSeconds = new Gauge({
    name: 'connector_sync_release_rolling_out_seconds',
    help: 'How long the release in progress has been rolling out (paused time included), 0 when none is',
    labelNames: ['release'] as const,
    registers: [this.registry],
  });
  readonly releaseGateRuns = new Gauge({
    name: 'connector_sync_release_gate_runs',
    help: 'Runs the wave in progress is judged by, by their state as last read (SCHEDULED, RUNNING, COMPLETED, FAILED, CRASHED, …; unseen: not yet found)',
    labelNames: ['release', 'state'] as const,
    registers: [this.registry],
  });
  readonly lastSuccess = new Gauge({
    name: 'connector_sync_last_successful_pass_timestamp_seconds',
    help: 'When the last pass that ran to its end finished (Unix time); 0 before the first',
    registers: [this.registry],
  });
  readonly failedInARow = new Gauge({
    name: 'connector_sync_failed_passes_in_a_row',
    help: 'Passes in a row that failed or were cut short (0 after a pass that ran to its end)',
    registers: [this.registry],
  });
  readonly publishBacklogEvents = new Gauge({
    name: 'connector_sync_publish_backlog_events',
    help: 'Events of the log not yet published to a sink (events.publish), by sink (prefect, nats)',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly publishBacklogSeconds = new Gauge({
    name: 'connector_sync_publish_backlog_seconds',
    help: 'Age of the oldest event not yet published to a sink; 0 when it has them all',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly published = new Counter({
    name: 'connector_sync_published_events_total',
    help: 'Events published to a sink',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly publishFailures = new Counter({
    name: 'connector_sync_publish_failures_total',
    help: 'Attempts to publish a batch of events to a sink that failed (retried with backoff)',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly pruned = new Counter({
    name: 'connector_sync_pruned_rows_total',
    help: 'Rows removed by retention, by table (events, passes)',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'connector_sync_leader',
    help: '1 while this replica holds the reconcile lock',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** A full pass's run health: every verdict is set (0 when none), so one that clears reads 0. */
  observeRunHealth(found: { byHealth: Record<string, number>; runsLate: number }): void {
    for (const [health, n] of Object.entries(found.byHealth)) this.connectorRuns.set({ health }, n);
    this.runsLate.set(found.runsLate);
  }

  /** After a full pass: the release gauges, replaced whole. */
  observeReleases(view: ReleaseView): void {
    this.releaseConnectors.reset();
    for (const [release, n] of view.connectors) this.releaseConnectors.set({ release }, n);
    this.releaseState.reset();
    for (const r of view.shown) this.releaseState.set({ release: r.id, state: r.state }, 1);
    this.releaseFailed.reset();
    this.releaseFailed.set({ release: view.target.id }, view.target.failed ? 1 : 0);
    this.releaseRollingOutSeconds.reset();
    this.releaseRollingOutSeconds.set({ release: view.inProgress ?? '' }, view.rollingOutSeconds);
    this.releaseGateRuns.reset();
    for (const [state, n] of Object.entries(view.gateRuns))
      this.releaseGateRuns.set({ release: view.inProgress ?? '', state }, n);
  }

  observePrefect(call: {
    method: string;
    route: string;
    status: number | null;
    seconds: number;
  }): void {
    this.prefectRequests.inc({
      method: call.method,
      route: call.route,
      status: call.status === null ? 'error' : String(call.status),
    });
    this.prefectDuration.observe({ method: call.method, route: call.route }, call.seconds);
  }
}
