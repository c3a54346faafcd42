/** Where a command writes: results to stdout, notes and failures to stderr (cli.ts provides them). */
export interface Output {
  print: (text: string) => void;
  printError: (text: string) => void;
}
