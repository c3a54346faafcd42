import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../../scripts/prefect-server.ts';

// A template deployment as a flow's own release process makes it: registered
// with Prefect's Python SDK (`flow.from_source(...).deploy(...)`) from the
// typed test flow, never with a JSON body of ours, so the schema, pull steps
// and version are exactly what Prefect derives. Plus Prefect's CLI as the
// judge of whether a deployment's schema is live (`prefect deployment run -p`).

/** The folder holding `flows/typed_pipeline_flow.py` (the default pull-step directory). */
export const FIXTURES_DIR = join(REPO, 'test/fixtures');
export const TYPED_FLOW_ENTRYPOINT = 'flows/typed_pipeline_flow.py:run_connector_pipeline';

export type Json = Record<string, any>;

export interface TemplateOptions {
  apiUrl: string;
  venv: string;
  /** The deployment's flow name (the @flow name in the file is replaced by it). */
  flowName: string;
  deploymentName: string;
  workPool: string;
  version: string;
  /**
   * Where the worker finds the flow code: Prefect makes this the
   * `set_working_directory` pull step. Default FIXTURES_DIR; a release that
   * changes the pull steps points at another folder (see copyFlowSource).
   */
  pullStepsDir?: string;
  jobVariables?: Json;
  workQueue?: string;
  tags?: string[];
  /** Default true: a template is registered paused, without schedules. */
  paused?: boolean;
}

// Run by the venv's python with the options as JSON in argv[1]. `deploy` is
// an upsert by flow and deployment name, so registering again is a release.
const REGISTER_PY = `
import json, sys
from prefect import flow
o = json.loads(sys.argv[1])
f = flow.from_source(source=o["dir"], entrypoint=o["entrypoint"]).with_options(name=o["flowName"])
f.deploy(
    name=o["deploymentName"],
    work_pool_name=o["workPool"],
    work_queue_name=o.get("workQueue"),
    version=o["version"],
    job_variables=o.get("jobVariables"),
    tags=o.get("tags"),
    paused=o["paused"],
    build=False,
    push=False,
    print_next_steps=False,
    ignore_warnings=True,
)
`;

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a Prefect client process: its own PREFECT_HOME, no profile of this machine's. */
function prefectEnv(apiUrl: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    PREFECT_HOME: mkdtempSync(join(tmpdir(), 'cs-prefect-client-')),
    PREFECT_API_URL: apiUrl,
    PREFECT_SERVER_ANALYTICS_ENABLED: 'false',
    // Rich wraps output at 80 columns otherwise, splitting messages mid-sentence.
    COLUMNS: '1000',
    NO_COLOR: '1',
    // Loading the flow file must leave no __pycache__ in the repository.
    PYTHONDONTWRITEBYTECODE: '1',
  };
}

function run(file: string, args: string[], apiUrl: string, timeoutMs = 120_000) {
  return new Promise<ProcessResult>((resolve) => {
    execFile(
      file,
      args,
      { env: prefectEnv(apiUrl), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * Registers (or registers again: a release) the template deployment with
 * Prefect's SDK and returns it as Prefect reads it back by name.
 */
export async function registerTemplate(options: TemplateOptions): Promise<Json> {
  const spec = {
    dir: options.pullStepsDir ?? FIXTURES_DIR,
    entrypoint: TYPED_FLOW_ENTRYPOINT,
    flowName: options.flowName,
    deploymentName: options.deploymentName,
    workPool: options.workPool,
    workQueue: options.workQueue,
    version: options.version,
    jobVariables: options.jobVariables,
    tags: options.tags,
    paused: options.paused ?? true,
  };
  const result = await run(
    join(options.venv, 'bin/python'),
    ['-c', REGISTER_PY, JSON.stringify(spec)],
    options.apiUrl,
  );
  if (result.code !== 0)
    throw new Error(
      `registering template ${options.flowName}/${options.deploymentName} failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`,
    );
  const read = await readDeploymentByName(options.apiUrl, options.flowName, options.deploymentName);
  if (read.status !== 200)
    throw new Error(
      `template not readable after deploy: ${read.status} ${JSON.stringify(read.data)}`,
    );
  return read.data;
}

/** GET /deployments/name/{flow}/{name}: 200 with the deployment, or 404 {"detail":"Deployment not found"}. */
export async function readDeploymentByName(
  apiUrl: string,
  flowName: string,
  deploymentName: string,
): Promise<{ status: number; data: Json }> {
  const response = await fetch(
    `${apiUrl}/deployments/name/${encodeURIComponent(flowName)}/${encodeURIComponent(deploymentName)}`,
  );
  return { status: response.status, data: (await response.json()) as Json };
}

/** A fresh folder with a copy of the test flows: another pull-step directory for a release. */
export function copyFlowSource(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cs-template-src-'));
  cpSync(join(FIXTURES_DIR, 'flows'), join(dir, 'flows'), { recursive: true });
  return dir;
}

export interface RunDeploymentOptions {
  venv: string;
  apiUrl: string;
  flowName: string;
  deploymentName: string;
  /**
   * One `-p key=value` each. A string is passed as typed on a command line
   * (Prefect parses it as JSON when it can: "100" is 100, "lots" stays text);
   * any other value is passed JSON-encoded.
   */
  params?: Record<string, unknown>;
}

export interface RunDeploymentResult extends ProcessResult {
  /** The flow run the CLI created; null when it refused. */
  flowRunId: string | null;
}

/** `prefect deployment run <flow>/<name> -p key=value ...`, Prefect's own CLI. */
export async function runDeployment(options: RunDeploymentOptions): Promise<RunDeploymentResult> {
  const args = ['deployment', 'run', `${options.flowName}/${options.deploymentName}`];
  for (const [key, value] of Object.entries(options.params ?? {}))
    args.push('-p', `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const result = await run(join(options.venv, 'bin/prefect'), args, options.apiUrl);
  // Prints "└── UUID: <id>" under "Created flow run '<name>'."
  const id = /UUID: ([0-9a-f-]{36})/.exec(result.stdout)?.[1] ?? null;
  return { ...result, flowRunId: result.code === 0 ? id : null };
}

/** GET /flow_runs/{id}: parameters, state_type, state (with message), deployment_version, ... */
export async function readFlowRun(apiUrl: string, id: string): Promise<Json> {
  const response = await fetch(`${apiUrl}/flow_runs/${id}`);
  if (!response.ok) throw new Error(`GET /flow_runs/${id}: ${response.status}`);
  return (await response.json()) as Json;
}

/** The flow runs of one deployment (newest first), any state. */
export async function flowRunsOf(apiUrl: string, deploymentId: string): Promise<Json[]> {
  const response = await fetch(`${apiUrl}/flow_runs/filter`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      deployments: { id: { any_: [deploymentId] } },
      sort: 'EXPECTED_START_TIME_DESC',
      limit: 200,
    }),
  });
  if (!response.ok) throw new Error(`POST /flow_runs/filter: ${response.status}`);
  return (await response.json()) as Json[];
}

export const FINAL_STATES = ['COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED'];

/**
 * Polls a flow run until it is in a final state (or the time is up, or
 * `stopWaiting` says there is no point, e.g. the worker exited) and returns
 * it as last read: the caller asserts on `state_type`.
 */
export async function waitForFlowRun(
  apiUrl: string,
  id: string,
  timeoutMs: number,
  stopWaiting: () => boolean = () => false,
): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  let flowRun = await readFlowRun(apiUrl, id);
  while (!FINAL_STATES.includes(flowRun.state_type) && Date.now() < deadline && !stopWaiting()) {
    await new Promise((r) => setTimeout(r, 1000));
    flowRun = await readFlowRun(apiUrl, id);
  }
  return flowRun;
}

/** What a run of typed_pipeline_flow.py wrote: the values it got and their Python types. */
export interface RunMarker {
  flow_run_id: string;
  deployment_name: string | null;
  deployment_version: string | null;
  parameters: { connector_id: number; source: string; batch_size: number; full_refresh: boolean };
  types: Record<string, string>;
}

/** The marker of one flow run, or null if that run wrote none (yet). */
export function readRunMarker(markersDir: string, flowRunId: string): RunMarker | null {
  if (!existsSync(markersDir)) return null;
  const file = readdirSync(markersDir).find((f) => f.endsWith(`-${flowRunId}.json`));
  return file ? (JSON.parse(readFileSync(join(markersDir, file), 'utf8')) as RunMarker) : null;
}

/** Removes a deployment by flow and name if it exists. */
export async function deleteDeploymentByName(
  apiUrl: string,
  flowName: string,
  deploymentName: string,
): Promise<void> {
  const read = await readDeploymentByName(apiUrl, flowName, deploymentName);
  if (read.status === 200)
    await fetch(`${apiUrl}/deployments/${read.data.id}`, { method: 'DELETE' });
}
