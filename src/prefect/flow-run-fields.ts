import type { GateRunView } from '../domain/rollout.js';

// A flow run as Prefect answers it, and as a release's gate reads it.

export interface RawFlowRun {
  id: string;
  deployment_id: string | null;
  state_type: string | null;
  state_name: string | null;
  state?: { message?: string | null } | null;
  deployment_version?: string | null;
  expected_start_time?: string | null;
}

export function gateRunViewOf(run: RawFlowRun): GateRunView {
  return {
    id: run.id,
    deploymentId: run.deployment_id,
    stateType: run.state_type,
    stateName: run.state_name,
    message: run.state?.message ?? null,
    deploymentVersion: run.deployment_version ?? null,
    expectedStart: run.expected_start_time ? new Date(run.expected_start_time) : null,
  };
}
