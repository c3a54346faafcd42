// `npm run lint` runs this: no import cycles, and imports point one way,
// down the tree: cli → worker → ops / publish → render → pass →
// postgres / prefect → config → domain. docs/concepts/architecture.md draws it.
/** A rule that `from` may not import `to`. */
const never = (name, comment, from, to) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from },
  to: { path: to },
});

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    never(
      'domain-is-pure',
      'domain/ imports nothing of ours but domain/',
      '^src/domain/',
      '^src/(?!domain/)',
    ),
    never(
      'config-on-domain',
      'the configuration knows only the domain',
      '^src/config/',
      '^src/(?!(config|domain)/)',
    ),
    never(
      'edges-below-the-pass',
      'the Postgres and Prefect edges know the domain and the configuration, not who calls them',
      '^src/(postgres|prefect)/',
      '^src/(pass|publish|render|ops|worker|cli)/|^src/(runtime|logger)\\.ts$',
    ),
    never(
      'edges-apart-prefect',
      'the two edges do not know each other',
      '^src/prefect/',
      '^src/postgres/',
    ),
    never(
      'edges-apart-postgres',
      'the two edges do not know each other',
      '^src/postgres/',
      '^src/prefect/',
    ),
    never(
      'pass-below-its-callers',
      'a pass knows its ports, not who runs it or shows it',
      '^src/pass/',
      '^src/(publish|render|ops|worker|cli)/|^src/runtime\\.ts$',
    ),
    never(
      'publish-beside-the-pass',
      'the publisher reads the committed log and talks to sinks: it never runs a pass',
      '^src/publish/',
      '^src/(pass|render|ops|worker|cli)/',
    ),
    never(
      'pass-never-publishes',
      'a pass commits its events and is done',
      '^src/(pass|domain|postgres|prefect)/',
      '^src/publish/',
    ),
    never(
      'render-is-presentation',
      'render/ turns results into text and JSON',
      '^src/render/',
      '^src/(postgres|prefect|publish|ops|worker|cli)/|^src/runtime\\.ts$',
    ),
    never(
      'ops-only-reads',
      'ops/ reads and hands requests to the loop: it never drives it',
      '^src/ops/',
      '^src/(worker|cli|publish)/',
    ),
    never(
      'worker-below-the-cli',
      'the CLI starts the worker, not the other way',
      '^src/worker/',
      '^src/cli/',
    ),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.build.json' },
    tsPreCompilationDeps: true,
  },
};
