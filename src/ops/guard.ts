import type http from 'node:http';
import { challenges, isAuthorized, isOpen, type OpsAuth } from './auth.js';

// What the ops server refuses before it routes (docs/guides/security.md): a body
// (every endpoint but the console's actions is a GET; an action's body is
// small JSON), and — when a credential is configured — any request for a
// protected path without it, existing or not. The actions' CSRF checks are in
// actions.ts.

/** The console's actions: POST with a JSON body of at most ACTION_BODY_MAX bytes. */
export const ACTIONS_PREFIX = '/api/actions/';
export const ACTION_BODY_MAX = 16 * 1024;

export interface Refusal {
  status: number;
  body: { error: string };
  headers: Record<string, string | string[]>;
}

export function refusalOf(
  req: Pick<http.IncomingMessage, 'headers'> & { method?: string | undefined },
  path: string,
  auth: OpsAuth,
): Refusal | null {
  const length = req.headers['content-length'];
  const hasBody =
    (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
  const mayHaveBody = req.method === 'POST' && path.startsWith(ACTIONS_PREFIX);
  if (hasBody && !mayHaveBody)
    return { status: 413, body: { error: 'request bodies are not accepted' }, headers: {} };
  if (hasBody && !(Number(length) <= ACTION_BODY_MAX))
    return {
      status: 413,
      body: {
        error: `an action's body is JSON of at most ${ACTION_BODY_MAX} bytes, with a content-length`,
      },
      headers: {},
    };
  if (isOpen(path, auth) || isAuthorized(req.headers.authorization, auth)) return null;
  return {
    status: 401,
    body: { error: 'unauthorized' },
    headers: { 'www-authenticate': challenges(auth) },
  };
}

/** The ops server's limits: a slow or greedy client cannot hold it. */
export const SERVER_LIMITS = {
  /** Whole request (headers and all) within this. */
  requestTimeout: 10_000,
  headersTimeout: 5_000,
  keepAliveTimeout: 5_000,
  /** Open connections at most (console streams included; they are capped at 20 of these). */
  maxConnections: 200,
  /** Request headers (the URL with its query string among them): Node answers 431 above it. */
  maxHeaderSize: 16 * 1024,
  /** How often the timeouts above are checked (Node's default is 30 s). */
  connectionsCheckingInterval: 1_000,
};
