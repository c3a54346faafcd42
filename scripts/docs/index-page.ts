// README.md: the index of the reference pages.

import { code, table } from './markdown.ts';
import type { Page } from './markdown.ts';

export function indexPage(pages: Page[]): Page {
  const rows = pages.map((p) => [
    `[${p.title}](${p.file})`,
    p.summary,
    p.sources.map(code).join(', '),
  ]);
  const body = [
    'Every page here is generated from the code: `npm run docs` writes them, and `npm run docs:check` (run by CI) fails when one differs from what the code generates. To change a page, change the code it comes from and run `npm run docs`.',
    table(['page', 'what it lists', 'generated from'], rows),
  ].join('\n\n');
  return {
    file: 'README.md',
    title: 'Reference',
    summary: 'this index',
    sources: ['scripts/docs.ts'],
    body,
  };
}
