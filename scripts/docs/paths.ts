// Where the repository is, and where its reference pages go.

import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');
export const OUT_DIR = join(REPO, 'docs/reference');
