import { createHash } from 'node:crypto';

// Which managed deployments are this installation's
// (docs/concepts/ownership-and-safety.md, "Installations"). Several
// installations — each its own source table and worker schema — may share
// one Prefect and one managed tag; each owns only the deployments of its own
// name. The `default` installation's carry no installation tag, exactly as
// every deployment did before installations: upgrading changes nothing.

export const DEFAULT_INSTALLATION = 'default';

/** Not `connector-…`: a connector's tag is `connector-<id>`, and this must never read as one. */
const INSTALLATION_TAG_PREFIX = 'cs-installation:';

/** The tag an installation adds to each of its deployments; none for `default`. */
export function installationTag(installation: string): string | null {
  return installation === DEFAULT_INSTALLATION ? null : `${INSTALLATION_TAG_PREFIX}${installation}`;
}

export function isInstallationTag(tag: string): boolean {
  return tag.startsWith(INSTALLATION_TAG_PREFIX);
}

/** The installation a managed deployment's tags name: `default` when they name none. */
export function installationOfTags(tags: readonly string[]): string {
  const tag = tags.find(isInstallationTag);
  return tag === undefined ? DEFAULT_INSTALLATION : tag.slice(INSTALLATION_TAG_PREFIX.length);
}

/** Whether a managed deployment (it carries the managed tag) is `installation`'s. */
export function ownedBy(tags: readonly string[], installation: string): boolean {
  return installationOfTags(tags) === installation;
}

/**
 * The Prefect variable that says which source an installation reads: one per
 * managed tag and installation name (Prefect's variable names allow only
 * lower-case letters, digits, `-` and `_`, so the tag is hashed).
 */
export function ownershipVariableName(managedTag: string, installation: string): string {
  const tag = createHash('sha256').update(managedTag).digest('hex').slice(0, 12);
  return `connector-sync-installation-${installation}-${tag}`;
}
