// cli.md: the commander program's own help, command by command.

import type { Command } from 'commander';
import type { CliProcess } from '../../src/cli/output.ts';
import { code, fenced, table } from './markdown.ts';
import type { Page } from './markdown.ts';
import { buildProgram, runCli } from './modules.ts';

/** Commander wraps help at the terminal's width; the page uses its width off a terminal. */
const HELP_WIDTH = 80;

function quietProcess(capture: (text: string) => void = () => undefined): CliProcess {
  return {
    env: {},
    write: capture,
    writeError: capture,
    onSignal: () => undefined,
    isTerminal: false,
    routeWarnings: () => undefined,
  };
}

/** What `<command> --help` prints, the texts added after it included. */
function helpOf(command: Command): string {
  let text = '';
  command.configureOutput({
    writeOut: (s) => (text += s),
    writeErr: (s) => (text += s),
    getOutHelpWidth: () => HELP_WIDTH,
    getOutHasColors: () => false,
  });
  command.outputHelp();
  return text.trimEnd();
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}

/** A help line as a sentence: capitalised, with a full stop. */
function sentence(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}

/** What a mistyped command prints before the program's help, and how it ends. */
async function mistyped(): Promise<string> {
  let text = '';
  const ending = await runCli(
    ['node', 'connector-sync', 'pln'],
    quietProcess((s) => (text += s)),
  );
  const refusal = text.split('\n\n')[0]?.trim() ?? '';
  return [
    'A mistyped command is refused with a suggestion, then the help above:',
    fenced(`$ connector-sync pln\n${refusal}`),
    `It exits ${ending.code}.`,
  ].join('\n\n');
}

export async function cliPage(): Promise<Page> {
  const { program } = buildProgram(quietProcess());
  const commands = program.commands.filter((c) => !c.name().startsWith('help'));
  const summary = table(
    ['command', 'what it does'],
    commands.map((c) => [
      `[${code(`connector-sync ${c.name()} ${c.usage()}`)}](#${c.name()})`,
      firstLine(c.description()),
    ]),
  );
  const sections = commands.map((c) =>
    [`## ${c.name()}`, '', `${sentence(firstLine(c.description()))}`, '', fenced(helpOf(c))].join(
      '\n',
    ),
  );
  const body = [
    `${firstLine(program.description())} ${program.description().split('\n').slice(1).join(' ')}`,
    summary,
    'Exit codes: [exit-codes.md](exit-codes.md). Configuration keys and their environment variables: [configuration.md](configuration.md).',
    '## connector-sync',
    'The global options, the commands, the exit codes and the environment.',
    fenced(helpOf(program)),
    await mistyped(),
    ...sections,
  ].join('\n\n');
  return {
    file: 'cli.md',
    title: 'CLI',
    summary: 'every command and option, as `--help` prints them',
    sources: ['src/cli/program.ts', 'src/cli/controls.ts'],
    body,
  };
}
