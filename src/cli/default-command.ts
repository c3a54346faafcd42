import type { Command } from 'commander';

/**
 * argv with `fallback` put in front when no command is named. commander's own
 * default command would take a mistyped command (`pln`) as an argument of the
 * default and say "too many arguments"; named this way, commander sees the
 * unknown command as one, and says so with a suggestion.
 */
export function withDefaultCommand(argv: string[], program: Command, fallback: string): string[] {
  const takesValue = new Set(
    program.options
      .filter((option) => option.required || option.optional)
      .flatMap((option) => [option.short, option.long])
      .filter((flag): flag is string => flag !== undefined),
  );
  const args = argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') break;
    // A command, known or not: commander judges it.
    if (!arg.startsWith('-') || arg === '-') return argv;
    // About the program itself, not about the default command.
    if (['-h', '--help', '-V', '--version'].includes(arg)) return argv;
    if (takesValue.has(arg)) i++;
  }
  return [...argv.slice(0, 2), fallback, ...args];
}
