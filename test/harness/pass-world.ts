import { sourceRow } from './plan-fixtures.js';
import pino from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { settleAfterMs } from '../../src/domain/settle.js';
import type { SourceRow } from '../../src/domain/types.js';
import type { PassDeps, PassOptions } from '../../src/pass/context.js';
import { runPass } from '../../src/pass/run.js';
import { Crasher } from './crash.js';
import { FakePrefect } from './fake-prefect.js';
import { FakeStore } from './fake-store.js';
import type { PassResult } from '../../src/pass/result.js';

// A pass against the in-memory fakes: Prefect, the store, one clock and one
// crash injector shared by both, as one process and its two services.

export interface PassWorld {
  prefect: FakePrefect;
  store: FakeStore;
  crasher: Crasher;
  config: Config;
  clock: { now(): Date; advance(ms: number): void };
  pass(options?: Partial<PassOptions>): Promise<PassResult>;
  /** Lets time pass until every open intent may be settled. */
  untilSettleable(): void;
  row(id: string, overrides?: Partial<SourceRow>): SourceRow;
}

export function passWorld(configOverrides: Record<string, unknown> = {}): PassWorld {
  let t = Date.parse('2026-12-01T08:00:00Z');
  const clock = { now: () => new Date(t), advance: (ms: number) => void (t += ms) };
  const crasher = new Crasher();
  const prefect = new FakePrefect(crasher);
  const store = new FakeStore(clock, crasher);
  const config = configWith(configOverrides);
  const deps = (): PassDeps => ({
    prefect,
    store,
    config,
    logger: pino({ level: 'silent' }),
    now: clock.now,
    newId: () => uuidv7(),
    random: () => 0.5,
  });
  return {
    prefect,
    store,
    crasher,
    config,
    clock,
    pass: (options = {}) => runPass(deps(), { dryRun: false, allowMassDelete: false, ...options }),
    untilSettleable: () => clock.advance(settleAfterMs(config.prefect) + 1),
    row: (id, overrides = {}) => sourceRow({ id, name: `Connector ${id}`, ...overrides }),
  };
}

function configWith(overrides: Record<string, unknown>): Config {
  const result = loadConfig({
    env: { DATABASE_URL: 'postgres://unused@localhost/none', PREFECT_API_URL: 'http://fake/api' },
    overrides,
  });
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return result.config;
}
