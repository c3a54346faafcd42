// docs/reference/ from the code (run by `npm run docs` and `npm run docs:check`):
//   node scripts/docs.ts           writes every page
//   node scripts/docs.ts --check   writes nothing; exits 1 naming each page that
//                                  differs from what the code generates
// Each page is built from the values the program itself uses — the commander
// program, the zod schema and its descriptions, the metrics registry, the
// vocabulary, the event builders, the exit-code table — and formatted with the
// project's prettier settings, so the output is deterministic and a change to
// any of them leaves a stale page behind until `npm run docs` is run again.
// The pages, the Markdown they are made of and the writing live in scripts/docs/.

import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { cliPage } from './docs/cli.ts';
import { configurationPage } from './docs/configuration.ts';
import { eventsPage } from './docs/events.ts';
import { exitCodesPage } from './docs/exit-codes.ts';
import { indexPage } from './docs/index-page.ts';
import { header } from './docs/markdown.ts';
import { metricsPage } from './docs/metrics.ts';
import { check, write } from './docs/output.ts';
import { OUT_DIR } from './docs/paths.ts';

async function renderPages(): Promise<Map<string, string>> {
  const pages = [
    await cliPage(),
    configurationPage(),
    await metricsPage(),
    eventsPage(),
    exitCodesPage(),
  ];
  const options = { ...(await resolveConfig(join(OUT_DIR, 'README.md'))), parser: 'markdown' };
  const rendered = new Map<string, string>();
  for (const page of [indexPage(pages), ...pages])
    rendered.set(page.file, await format(`${header(page)}\n${page.body}\n`, options));
  return rendered;
}

const pages = await renderPages();
process.exitCode = process.argv.includes('--check') ? check(pages) : write(pages);
