// events.md: the vocabulary, and an example of each event from the real builders.

import type { StoredEvent } from '../../src/domain/events.ts';
import type { EventAction } from '../../src/domain/vocabulary.ts';
import type { ProblemStatus } from '../../src/domain/types.ts';
import { EVENT_COLUMNS } from './event-columns.ts';
import { EXAMPLE_CONFIG, storedExamples } from './event-examples.ts';
import { code, json, listOf, table } from './markdown.ts';
import type { Page } from './markdown.ts';
import { EVENT_NAMES, prefectEventOf, vocabulary } from './modules.ts';

const PROBLEM_STATUSES: ProblemStatus[] = ['failed', 'invalid', 'conflict'];

/** The example, and the variants of it that the Prefect sink names differently, each labelled. */
function variantsOf(action: string, example: StoredEvent): [label: string, event: StoredEvent][] {
  const withPayload = (extra: Record<string, unknown>): StoredEvent => ({
    ...example,
    payload: { ...example.payload, ...extra },
  });
  if (action === 'failed')
    return PROBLEM_STATUSES.map((status) => [`status ${code(status)}: `, withPayload({ status })]);
  if (action === 'updated')
    return [
      ['', example],
      ['with `drift`: ', withPayload({ drift: true })],
    ];
  return [['', example]];
}

/** What the Prefect sink posts an action's events as. */
function postedAs(action: string, example: StoredEvent): string {
  return variantsOf(action, example)
    .map(([label, event]) => {
      const posted = prefectEventOf(event);
      return label + (posted === null ? '— (Prefect emits its own)' : code(posted.event));
    })
    .join('; ');
}

function actionsTable(examples: Record<EventAction, StoredEvent>): string {
  const rows = vocabulary.EVENT_ACTIONS.map((action) => [
    `[${code(action)}](#${action})`,
    code(EVENT_NAMES[action]),
    postedAs(action, examples[action]),
    vocabulary.EVENT_DESCRIPTIONS[action],
  ]);
  return table(['action', 'event', 'posted to Prefect as', 'written when'], rows);
}

function columnsSection(): string[] {
  const rows = Object.entries(EVENT_COLUMNS).map(([column, [type, text]]) => [
    code(column),
    type,
    text,
  ]);
  return [
    '## Columns',
    table(['column', 'type', 'holds'], rows),
    'Beside them, `seq` (bigint) is the commit order: readers page and follow by it.',
  ];
}

function sinksParagraph(): string {
  const subject = EXAMPLE_CONFIG.events.publish.nats.subject;
  const subjects = ['created', 'failed', 'pass-failed'].map((a) => code(`${subject}.${a}`));
  return `The Prefect sink (\`events.publish.prefect\`) posts only the events Prefect cannot know, under the names above, with the event's \`pass_id\` added to the payload; the NATS sink (\`events.publish.nats.url\`) publishes every event to \`<events.publish.nats.subject>.<action>\` (by default ${listOf(subjects)}, …).`;
}

/** Two whole rows (a deployment's event, a connector's), then each action's payload. */
function examplesSection(examples: Record<EventAction, StoredEvent>): string[] {
  return [
    '## Two event rows',
    'As the log stores them, made by the same functions a pass uses (the values are made up; a secret-looking parameter reads `"[masked]"`). A deployment\'s event is about the deployment, with its connector related:',
    json(examples.updated),
    "A connector's event is about the connector, with its deployment related (role `deployment`) when it has one:",
    json(examples.failed),
    '## Payloads',
    ...vocabulary.EVENT_ACTIONS.flatMap((action) => [
      `### ${action}`,
      `Event ${code(EVENT_NAMES[action])} about ${code(String(examples[action].resource['prefect.resource.id']))}. Payload:`,
      json(examples[action].payload),
    ]),
  ];
}

function vocabularySections(): string[] {
  const statuses = vocabulary.CONNECTOR_STATUSES.map((s) => [
    code(s),
    vocabulary.CONNECTOR_STATUS_DESCRIPTIONS[s],
  ]);
  const results = vocabulary.PASS_RESULTS.map((r) => [
    code(r),
    vocabulary.PASS_RESULT_DESCRIPTIONS[r],
  ]);
  return [
    '## Connector statuses',
    "A connector's state is a row of `<database.schema>.connector_state` (`connector-sync status`); its `status` is one of these. A suspended connector keeps the status it had.",
    table(['status', 'meaning'], statuses),
    '## Pass results',
    'Every real pass (dry runs are not recorded) is a row of `<database.schema>.passes` (`connector-sync passes`); its `result` is one of these.',
    table(['result', 'meaning'], results),
  ];
}

export function eventsPage(): Page {
  const examples = storedExamples();
  const body = [
    'The event log is the table `<database.schema>.events`: append-only (a trigger refuses an update), one row per event, each insert followed by `NOTIFY connector_sync_events` with the event id. How it is read and delivered: [the event log](../concepts/event-log.md).',
    ...columnsSection(),
    '## Actions',
    actionsTable(examples),
    sinksParagraph(),
    ...examplesSection(examples),
    ...vocabularySections(),
  ].join('\n\n');
  return {
    file: 'events.md',
    title: 'Events',
    summary:
      'the event log: its columns, every action with its event name, when it is written and an example payload; connector statuses and pass results',
    sources: [
      'src/domain/vocabulary.ts',
      'src/domain/events.ts',
      'src/domain/connector-events.ts',
      'scripts/docs/event-examples.ts',
    ],
    body,
  };
}
