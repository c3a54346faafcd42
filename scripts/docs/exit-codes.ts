// exit-codes.md: what each exit code means, for which commands, and which wins.

import { code, listOf, table } from './markdown.ts';
import type { Page } from './markdown.ts';
import { EXIT, EXIT_COMMANDS, EXIT_MEANINGS, EXIT_PRECEDENCE } from './modules.ts';

export function exitCodesPage(): Page {
  const names = new Map(Object.entries(EXIT).map(([name, exitCode]) => [exitCode, name]));
  const rows = Object.values(EXIT).map((exitCode) => [
    `**${exitCode}**`,
    EXIT_MEANINGS[exitCode],
    EXIT_COMMANDS[exitCode],
    code(`EXIT.${names.get(exitCode)}`),
  ]);
  const body = [
    `When several apply, the first of ${listOf(EXIT_PRECEDENCE.map(String))} wins. 0, 64 and 69 hold for every command; \`sync\` and \`retry\` exit as \`run --once\`.`,
    table(['code', 'meaning', 'commands', 'in the code'], rows),
  ].join('\n\n');
  return {
    file: 'exit-codes.md',
    title: 'Exit codes',
    summary: 'what each code means, for which commands, and which wins',
    sources: ['src/domain/exit-codes.ts'],
    body,
  };
}
