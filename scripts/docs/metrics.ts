// metrics.md: the worker's registry.

import { code, listOf, table } from './markdown.ts';
import type { Page } from './markdown.ts';
import { Metrics } from './modules.ts';

interface MetricInfo {
  name: string;
  type: string;
  help: string;
  labels: string[];
}

async function metricInfos(): Promise<MetricInfo[]> {
  const { registry } = new Metrics();
  return (await registry.getMetricsAsJSON()).map((m) => {
    const labelNames: unknown = Reflect.get(registry.getSingleMetric(m.name) ?? {}, 'labelNames');
    return {
      name: m.name,
      type: String(m.type),
      help: m.help,
      labels: Array.isArray(labelNames) ? labelNames.map(String) : [],
    };
  });
}

const HISTOGRAM_SERIES = '(`_bucket{le}`, `_sum`, `_count`)';

export async function metricsPage(): Promise<Page> {
  const all = await metricInfos();
  const ours = all.filter((m) => m.name.startsWith('connector_sync_'));
  const others = [
    ...new Set(all.filter((m) => !ours.includes(m)).map((m) => m.name.split('_')[0])),
  ];
  const rows = ours.map((m) => [
    code(m.name),
    m.type === 'histogram' ? `histogram ${HISTOGRAM_SERIES}` : m.type,
    m.labels.map(code).join(', '),
    m.help,
  ]);
  const body = [
    'The long-running worker serves these on `GET /metrics` of its ops port (`http.port`), in the Prometheus text format; with `http.auth.metrics: true` the scraper needs the ops credential. The one-shot commands export none.',
    table(['metric', 'type', 'labels', 'help'], rows),
    `Node's default process metrics (prom-client's \`collectDefaultMetrics\`: CPU, memory, event-loop lag, garbage collection, handles, …) are exported too, under their own names (${listOf(others.map((p) => code(`${p}_*`)))}); they are not listed here.`,
  ].join('\n\n');
  return {
    file: 'metrics.md',
    title: 'Metrics',
    summary: 'every series `/metrics` exports, with its type, labels and help',
    sources: ['src/ops/metrics.ts'],
    body,
  };
}
