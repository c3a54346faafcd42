import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './prefect-server.ts';

// Builds and runs the project's Dockerfile with podman where there is no
// Docker engine and no image registry. The official Node image cannot be
// pulled, so the Dockerfile's BASE_IMAGE is swapped for a base made here the
// way that image is made: Debian bookworm (mmdebstrap, minbase, slimmed as
// debian:bookworm-slim is), the Node 24 release binary in /usr/local/bin, npm
// under /usr/local/lib/node_modules, and a `node` user with uid/gid 1000. The base is kept as a tarball in the
// cache and in podman's storage, so a warm run only checks that it is there.
//
// Podman's defaults fail on these machines (crun refuses the hybrid cgroup
// layout; setting default ulimits is not permitted): runc, the cgroupfs
// manager and no default ulimits, through a CONTAINERS_CONF of our own.

const CACHE = process.env.CONNECTOR_SYNC_CACHE ?? join(homedir(), '.cache/connector-sync');
export const CONTAINER_CACHE = join(CACHE, 'container');
const SUITE = 'bookworm';
/** npm as the official Node 24 images carry it (11.x); pinned so the cached base stays valid. */
const NPM_VERSION = '11.21.2';
const BASE_REPO = 'localhost/connector-sync-base';
const TEST_BASE_REPO = 'localhost/connector-sync-test-base';
/** Where the test-only base keeps the CA of the machine's registry proxy (never in the shipped image). */
const TEST_CA_PATH = '/usr/local/share/ca-certificates/connector-sync-test-ca.crt';
const TOOLS = ['podman', 'runc', 'mmdebstrap'];

const CONTAINERS_CONF = `[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
`;

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

function confFile(): string {
  mkdirSync(CONTAINER_CACHE, { recursive: true });
  const file = join(CONTAINER_CACHE, 'containers.conf');
  if (!existsSync(file) || readFileSync(file, 'utf8') !== CONTAINERS_CONF) {
    const partial = `${file}.${randomBytes(4).toString('hex')}`;
    writeFileSync(partial, CONTAINERS_CONF);
    renameSync(partial, file);
  }
  return file;
}

export function run(
  command: string,
  args: string[],
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        env: { ...process.env, ...options.env },
        timeout: options.timeoutMs ?? 600_000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({
          code,
          stdout,
          stderr: error && code === -1 ? `${stderr}${error.message}` : stderr,
        });
      },
    );
  });
}

/** podman with this machine's settings; never throws (look at `code`). */
export function podman(args: string[], timeoutMs = 600_000): Promise<CommandResult> {
  return run('podman', args, { timeoutMs, env: { CONTAINERS_CONF: confFile() } });
}

/** podman that must succeed: throws with its stderr otherwise. */
export async function podmanOk(args: string[], timeoutMs?: number): Promise<string> {
  const result = await podman(args, timeoutMs);
  if (result.code !== 0) {
    throw new Error(`podman ${shown(args)} exited ${result.code}:\n${result.stderr.slice(-4000)}`);
  }
  return result.stdout;
}

/** The arguments for an error message, without the secrets an `-e` may carry. */
function shown(args: string[]): string {
  return args
    .map((arg) =>
      arg
        .replace(/^((?:[A-Z_]*)(?:KEY|SECRET|PASSWORD|TOKEN|AUTH)[A-Z_]*=).*/, '$1***')
        .replace(/(:\/\/[^:/@\s]+:)[^@\s]*@/g, '$1***@'),
    )
    .join(' ');
}

/** Why this machine cannot build and run the image, or null when the tools are there. */
export async function missingTools(): Promise<string | null> {
  const missing: string[] = [];
  for (const tool of TOOLS) {
    if ((await run('sh', ['-c', `command -v ${tool}`])).code !== 0) missing.push(tool);
  }
  if (missing.length === 0) return null;
  return `${missing.join(', ')} not installed (as root: apt-get install -y podman runc mmdebstrap; .ci/run does it)`;
}

function sha(...parts: (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 16);
}

async function imageExists(ref: string): Promise<boolean> {
  return (await podman(['image', 'exists', ref], 60_000)).code === 0;
}

/** The Node 24 binary the base gets: the one running this (the release build from the cache). */
function nodeBinary(): string {
  if (!process.version.startsWith('v24.')) {
    throw new Error(`the image base needs Node 24 (this is ${process.version}); use scripts/dev`);
  }
  return process.execPath;
}

async function npmTarball(): Promise<string> {
  const file = join(CONTAINER_CACHE, `npm-${NPM_VERSION}.tgz`);
  if (existsSync(file)) return file;
  const dir = mkdtempSync(join(tmpdir(), 'cs-npm-pack-'));
  const packed = await run(
    'npm',
    ['pack', `npm@${NPM_VERSION}`, '--pack-destination', dir, '--silent'],
    {
      timeoutMs: 300_000,
    },
  );
  if (packed.code !== 0) throw new Error(`npm pack npm@${NPM_VERSION} failed:\n${packed.stderr}`);
  renameSync(join(dir, `npm-${NPM_VERSION}.tgz`), file);
  rmSync(dir, { recursive: true, force: true });
  return file;
}

const SLIM_EXCLUDES = [
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/groff/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/lintian/*',
  'path-exclude=/usr/share/linda/*',
  'path-exclude=/usr/share/locale/*',
];

/** How the base is made; the cache key is taken from it (with the Node binary's version). */
function mmdebstrapArgs(node: string, npm: string, out: string): string[] {
  const modules = '"$1/usr/local/lib/node_modules"';
  const hooks = [
    `copy-in '${node}' /usr/local/bin`,
    `mkdir -p ${modules} && tar -xzf '${npm}' --no-same-owner -C ${modules} && mv ${modules}/package ${modules}/npm`,
    'ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm" && ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx" && ln -s node "$1/usr/local/bin/nodejs"',
    // The official image's user, made the same way.
    'chroot "$1" groupadd --gid 1000 node && chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node',
  ];
  return [
    '--quiet',
    '--variant=minbase',
    '--format=tar',
    // Merged /usr without the usrmerge package (and the perl it pulls in), as debian:bookworm-slim.
    '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
    // What debian:bookworm-slim leaves out; kept in the image's dpkg config, so later installs too.
    ...SLIM_EXCLUDES.map((rule) => `--dpkgopt=${rule}`),
    ...hooks.map((hook) => `--customize-hook=${hook}`),
    SUITE,
    out,
  ];
}

const IMPORT_CHANGES = [
  'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  `ENV NODE_VERSION=${process.version.slice(1)}`,
  'CMD ["node"]',
];

/** Builds the Debian + Node 24 root filesystem tarball (about 20 s) unless the cache has it. */
async function baseTarball(key: string, node: string, npm: string): Promise<string> {
  const file = join(CONTAINER_CACHE, `base-${key}.tar`);
  if (existsSync(file)) return file;
  const partial = `${file}.${randomBytes(4).toString('hex')}.partial`;
  const made = await run('mmdebstrap', mmdebstrapArgs(node, npm, partial), {
    timeoutMs: 900_000,
  });
  if (made.code !== 0) {
    rmSync(partial, { force: true });
    throw new Error(`mmdebstrap exited ${made.code}:\n${made.stderr.slice(-4000)}`);
  }
  renameSync(partial, file);
  // Older bases (another Node or npm) are of no further use.
  for (const old of readdirSync(CONTAINER_CACHE)) {
    if (/^base-[0-9a-f]+\.tar$/.test(old) && old !== `base-${key}.tar`) {
      rmSync(join(CONTAINER_CACHE, old), { force: true });
    }
  }
  return file;
}

/**
 * The stand-in for the official Node 24 image: imported from the cached tarball
 * into podman's storage (built first when neither has it). Returns its reference.
 * `fresh` builds and imports it anew (for measuring a cold start).
 */
export async function ensureBase(options: { fresh?: boolean } = {}): Promise<string> {
  const node = nodeBinary();
  const recipe = [...mmdebstrapArgs('NODE', 'NPM', 'OUT'), ...IMPORT_CHANGES, NPM_VERSION];
  const key = sha(JSON.stringify(recipe), process.version, process.arch);
  const ref = `${BASE_REPO}:${key}`;
  if (options.fresh) rmSync(join(CONTAINER_CACHE, `base-${key}.tar`), { force: true });
  else if (await imageExists(ref)) return ref;
  const tarball = await baseTarball(key, node, await npmTarball());
  await podmanOk(
    ['import', '--quiet', ...IMPORT_CHANGES.flatMap((c) => ['--change', c]), tarball, ref],
    300_000,
  );
  return ref;
}

/**
 * The CA file the machine trusts for its registry proxy: the build's `npm ci`
 * runs inside the container and must trust it too. NODE_EXTRA_CA_CERTS when
 * set, else the system bundle (which holds the proxy's CA where there is one).
 */
function hostCaFile(): string | null {
  const candidates = [process.env.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca-certificates.crt'];
  return candidates.find((f): f is string => !!f && existsSync(f)) ?? null;
}

/**
 * The base the test builds the Dockerfile on: ensureBase() plus the machine's
 * CA as a layer of its own (the CA changes with the machine, the base does not,
 * so the cached base stays valid). Test-only: the shipped image never has it.
 */
export async function ensureTestBase(): Promise<string> {
  const base = await ensureBase();
  const ca = hostCaFile();
  if (!ca) return base;
  const caBytes = readFileSync(ca);
  const ref = `${TEST_BASE_REPO}:${base.split(':')[1]}-${sha(caBytes)}`;
  if (await imageExists(ref)) return ref;
  const context = mkdtempSync(join(tmpdir(), 'cs-test-base-'));
  try {
    copyFileSync(ca, join(context, 'ca.crt'));
    writeFileSync(
      join(context, 'Containerfile'),
      `FROM ${base}\nCOPY ca.crt ${TEST_CA_PATH}\nENV NODE_EXTRA_CA_CERTS=${TEST_CA_PATH}\n`,
    );
    await podmanOk(['build', '--quiet', '--network', 'host', '-t', ref, context], 300_000);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  return ref;
}

/** Builds the repository's Dockerfile with BASE_IMAGE=base as `tag`; returns the build's output. */
export async function buildImage(tag: string, base: string, extra: string[] = []): Promise<string> {
  return podmanOk(
    [
      'build',
      ...extra,
      '--network',
      'host',
      '--build-arg',
      `BASE_IMAGE=${base}`,
      '-f',
      join(REPO, 'Dockerfile'),
      '-t',
      tag,
      REPO,
    ],
    900_000,
  );
}

// `node scripts/container.ts [TAG]`: build the image as the test does (scripts/dev image).
if (import.meta.main) {
  const tag = process.argv[2] ?? 'localhost/connector-sync:dev';
  const why = await missingTools();
  if (why) {
    console.error(`container: ${why}`);
    process.exit(69);
  }
  const started = performance.now();
  const base = await ensureTestBase();
  console.error(`container: base ${base} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  const building = performance.now();
  await buildImage(tag, base);
  console.error(
    `container: built ${tag} in ${((performance.now() - building) / 1000).toFixed(1)} s`,
  );
  console.log(tag);
}
