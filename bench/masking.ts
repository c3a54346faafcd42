// What masking costs per event: the created payload of a deployment (the
// largest an event gets) and an update of its parameters, masked as the pass
// writes them and again as every reader reads them. Pure CPU, no services.
//   npm run bench:masking -- [N]
import { performance } from 'node:perf_hooks';
import { DEFAULT_SECRET_KEYS, maskerOf } from '../dist/domain/mask.js';

const N = Number(process.argv[2] ?? 100_000);
const masker = maskerOf(DEFAULT_SECRET_KEYS);

const parameters = (password: string) => ({
  connector_id: 42,
  source: 'crm',
  db: { host: 'db1.internal', port: 5432, user: 'etl', password, options: { sslmode: 'require' } },
  api_key: 'ak-0b7d2a55c0ffee0b7d2a55c0ffee',
  tables: Array.from({ length: 20 }, (_, i) => ({ name: `table_${i}`, incremental: i % 2 === 0 })),
});
const created = {
  id: '0190c1f0-0000-7000-8000-000000000042',
  name: 'connector-42',
  flow_id: '0190c1f0-0000-7000-8000-000000000001',
  schedules: [{ schedule: { cron: '0 1 * * *', timezone: 'UTC' }, active: true }],
  parameters: parameters('first-password'),
  job_variables: { env: { LOG_LEVEL: 'info' } },
  tags: ['managed-by:connector-sync', 'connector-42'],
  work_pool_name: 'default',
  work_queue_name: 'default',
  paused: false,
  version: 'r1+1f50ac2c',
};
const updated = {
  updated_fields: ['parameters'],
  updates: { parameters: { from: parameters('first-password'), to: parameters('rotated') } },
};

function perEvent(payload: Record<string, unknown>): number {
  for (let i = 0; i < 1_000; i++) masker.eventPayload(payload); // warm up
  const started = performance.now();
  for (let i = 0; i < N; i++) masker.eventPayload(payload);
  return ((performance.now() - started) * 1000) / N;
}

const result = {
  scenario: 'masking',
  events: N,
  created_us_per_event: Math.round(perEvent(created) * 10) / 10,
  updated_us_per_event: Math.round(perEvent(updated) * 10) / 10,
};
console.log(JSON.stringify(result));
