import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ALERT_TESTS_FILE, ALERTS_FILE } from '../harness/monitoring.js';
import { PROMTOOL_BIN, prometheusSkipReason } from '../harness/prometheus-server.js';

// The alert rules checked and unit-tested by Prometheus's own promtool
// (config/prometheus/alerts.test.yaml: each alert firing on made-up series,
// and quiet where it should be).

function promtool(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(PROMTOOL_BIN, args, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: stdout + stderr });
    });
  });
}

describe('promtool', () => {
  const skipReason = prometheusSkipReason(PROMTOOL_BIN);

  it('check rules: alerts.yaml is valid', async (ctx) => {
    if (skipReason) ctx.skip(`promtool tests skipped: ${skipReason}`);
    const result = await promtool(['check', 'rules', ALERTS_FILE]);
    expect(result, result.output).toMatchObject({ code: 0 });
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('test rules: every case of alerts.test.yaml passes', async (ctx) => {
    if (skipReason) ctx.skip(`promtool tests skipped: ${skipReason}`);
    const result = await promtool(['test', 'rules', ALERT_TESTS_FILE]);
    expect(result, result.output).toMatchObject({ code: 0 });
    expect(result.output).toContain('SUCCESS');
    expect(result.output).not.toContain('FAILED');
  });
});
