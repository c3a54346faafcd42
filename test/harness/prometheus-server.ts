import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../scripts/prefect-server.ts';

// A real Prometheus (Debian's package: /usr/bin/prometheus) scraping one
// target every second and evaluating rule files every second, on a free port
// with its data in a temporary directory.

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
export const PROMTOOL_BIN = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool';

/**
 * Why the tests that need Prometheus cannot run here, or null. As root (CI)
 * a missing binary is a failure, not a skip: .ci/monitoring-tools installs it.
 */
export function prometheusSkipReason(bin: string): string | null {
  if (existsSync(bin)) return null;
  if (process.getuid?.() === 0)
    throw new Error(`${bin} is missing: run .ci/monitoring-tools (apt-get install prometheus)`);
  return `${bin} is missing and not root (install Debian's prometheus package)`;
}

export interface QueryAnswer {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value?: unknown }[] };
}

export interface RuleState {
  name: string;
  type: string;
  health: string;
  lastError?: string;
  state?: string;
  lastEvaluation: string;
  alerts?: { state: string; value: string; labels: Record<string, string> }[];
}

export interface PrometheusServer {
  url: string;
  query(expr: string): Promise<QueryAnswer>;
  rules(): Promise<RuleState[]>;
  output(): string;
  stop(): Promise<void>;
}

export async function startPrometheus(options: {
  job: string;
  target: string;
  ruleFiles: string[];
}): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cs-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(
    configFile,
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: options.ruleFiles,
      scrape_configs: [{ job_name: options.job, static_configs: [{ targets: [options.target] }] }],
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  child.stdout?.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (text += c.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    await untilReady(url, exited, () => text);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    query: async (expr) => {
      const response = await fetch(`${url}/api/v1/query`, {
        method: 'POST',
        body: new URLSearchParams({ query: expr }),
      });
      return (await response.json()) as QueryAnswer;
    },
    rules: async () => {
      const response = await fetch(`${url}/api/v1/rules`);
      const body = (await response.json()) as { data: { groups: { rules: RuleState[] }[] } };
      return body.data.groups.flatMap((g) => g.rules);
    },
    output: () => text,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function untilReady(url: string, exited: Promise<void>, output: () => string) {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !gone) {
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`prometheus did not become ready; output:\n${output()}`);
}
