import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The console's files: console/ at the top of the package (the page, its script and
// style, shipped like config/ and sql/) and format.js, compiled from src/console
// by the ordinary build. No bundler, no CDN: the network may be closed.

const HERE = dirname(fileURLToPath(import.meta.url));
const PAGE_DIR = resolve(HERE, '../../console');
const COMPILED_DIR = resolve(HERE, 'console');

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: resolve(PAGE_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { file: resolve(PAGE_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: resolve(PAGE_DIR, 'app.css'), type: 'text/css; charset=utf-8' },
  '/format.js': {
    file: resolve(COMPILED_DIR, 'format.js'),
    type: 'text/javascript; charset=utf-8',
  },
};

export const ASSET_PATHS = Object.keys(ASSETS);

// The page runs only its own files: nothing inline, nothing from elsewhere, never framed.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

const cache = new Map<string, Buffer>();

/** Answers GET of one of the console's files (read once, then kept). */
export async function serveAsset(path: string, res: http.ServerResponse): Promise<void> {
  const asset = ASSETS[path];
  if (!asset) throw new Error(`no console asset ${path}`);
  let body = cache.get(path);
  if (!body) {
    body = await readFile(asset.file);
    cache.set(path, body);
  }
  res.writeHead(200, { 'content-type': asset.type, ...SECURITY_HEADERS });
  res.end(body);
}
