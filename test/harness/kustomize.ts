import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO } from '../../scripts/prefect-server.ts';

// What `kubectl apply -k config/kubernetes/overlays/<name>` would send, read the
// way the cluster reads it: rendered by `kubectl kustomize`, never by reading
// the base's files (an overlay's patches, generators and components change them).

export type Obj = Record<string, any>;

export const KUSTOMIZE_DIR = join(REPO, 'config/kubernetes');

/** The overlays: every folder of config/kubernetes/overlays. */
export const OVERLAYS = readdirSync(join(KUSTOMIZE_DIR, 'overlays'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

/**
 * The kubectl to render with: $KUBECTL, else the one on PATH, else the one
 * scripts/k8s-check.sh installed into its cached virtualenv; null if none.
 */
export function findKubectl(): string | null {
  if (process.env.KUBECTL) return process.env.KUBECTL;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'kubectl'))) return join(dir, 'kubectl');
  }
  const cache = process.env.CONNECTOR_SYNC_CACHE ?? join(homedir(), '.cache/connector-sync');
  const venvs = existsSync(cache)
    ? readdirSync(cache).filter((n) => n.startsWith('k8s-tools-'))
    : [];
  const found = venvs.map((v) => join(cache, v, 'bin/kubectl')).find((p) => existsSync(p));
  return found ?? null;
}

export const NO_KUBECTL =
  'no kubectl (not on PATH, not in the cache): scripts/k8s-check.sh installs one';

const renders = new Map<string, Obj[]>();

/** The objects `kubectl kustomize` renders for an overlay (cached per process). */
export function renderOverlay(overlay: string): Obj[] {
  const cached = renders.get(overlay);
  if (cached) return cached;
  const kubectl = findKubectl();
  if (!kubectl) throw new Error(NO_KUBECTL);
  const text = execFileSync(kubectl, ['kustomize', join(KUSTOMIZE_DIR, 'overlays', overlay)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const docs = parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${overlay}: ${doc.errors[0]!.message}`);
    return doc.toJS() as Obj;
  });
  renders.set(overlay, docs);
  return docs;
}

/** The pod spec of a Deployment or a CronJob. */
export function podSpecOf(workload: Obj): Obj {
  return (
    workload.kind === 'CronJob'
      ? workload.spec.jobTemplate.spec.template.spec
      : workload.spec.template.spec
  ) as Obj;
}
