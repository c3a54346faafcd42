// The program's modules the pages are made from: the one place that knows dist/.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as CliProgramModule from '../../src/cli/program.ts';
import type * as ConfigSchemaModule from '../../src/config/schema.ts';
import type * as ConfigLoadModule from '../../src/config/load.ts';
import type * as OpsMetricsModule from '../../src/ops/metrics.ts';
import type * as DomainVocabularyModule from '../../src/domain/vocabulary.ts';
import type * as DomainEventsModule from '../../src/domain/events.ts';
import type * as DomainConnectorEventsModule from '../../src/domain/connector-events.ts';
import type * as DomainExitCodesModule from '../../src/domain/exit-codes.ts';
import type * as DomainDesiredModule from '../../src/domain/desired.ts';
import type * as PassEventRowModule from '../../src/pass/event-row.ts';
import type * as PublishPrefectEventsModule from '../../src/publish/prefect-events.ts';
import { REPO } from './paths.ts';

// The program's own modules as built (dist/; `npm run docs` builds first), typed by their sources.
const dist = (path: string): string => pathToFileURL(join(REPO, 'dist', path)).href;
export const { buildProgram, runCli } = (await import(
  dist('cli/program.js')
)) as typeof CliProgramModule;
export const { configSchema } = (await import(
  dist('config/schema.js')
)) as typeof ConfigSchemaModule;
export const { ENV_KEYS } = (await import(dist('config/load.js'))) as typeof ConfigLoadModule;
export const { Metrics } = (await import(dist('ops/metrics.js'))) as typeof OpsMetricsModule;
export const vocabulary = (await import(
  dist('domain/vocabulary.js')
)) as typeof DomainVocabularyModule;
export const { EVENT_NAMES, eventForChange, releaseEvent } = (await import(
  dist('domain/events.js')
)) as typeof DomainEventsModule;
export const connectorEvents = (await import(
  dist('domain/connector-events.js')
)) as typeof DomainConnectorEventsModule;
export const { EXIT, EXIT_COMMANDS, EXIT_MEANINGS, EXIT_PRECEDENCE } = (await import(
  dist('domain/exit-codes.js')
)) as typeof DomainExitCodesModule;
export const { SCHEDULE_SLUG } = (await import(
  dist('domain/desired.js')
)) as typeof DomainDesiredModule;
export const { eventRow } = (await import(dist('pass/event-row.js'))) as typeof PassEventRowModule;
export const { prefectEventOf } = (await import(
  dist('publish/prefect-events.js')
)) as typeof PublishPrefectEventsModule;
