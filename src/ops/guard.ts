import type http from 'node:http';
import { challenges, isAuthorized, isOpen, type OpsAuth } from './auth.js';

// What the ops server refuses before it routes (docs/guides/security.md): a body
// (every endpoint is a GET), and — when a credential is configured — any
// request for a protected path without it, existing or not.

export interface Refusal {
  status: number;
  body: { error: string };
  headers: Record<string, string | string[]>;
}

export function refusalOf(
  req: Pick<http.IncomingMessage, 'headers'>,
  path: string,
  auth: OpsAuth,
): Refusal | null {
  const length = req.headers['content-length'];
  if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined)
    return { status: 413, body: { error: 'request bodies are not accepted' }, headers: {} };
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
