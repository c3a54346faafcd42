// `npm run lint` runs this: no import cycles, and imports flow one way, down
// the data path: cli → commands → worker → reconcile → db / prefect → core.
/** A rule that `from` may not import `to`. */
const never = (name, from, to) => ({
  name,
  severity: 'error',
  from: { path: from },
  to: { path: to },
});

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    never('core-is-pure', '^src/core/', '^src/(?!core/)'),
    never(
      'config-below-io',
      '^src/config/',
      '^src/(db|prefect|reconcile|worker|commands|render)/|^src/cli',
    ),
    never(
      'edges-below-the-pass',
      '^src/(db|prefect)/',
      '^src/(reconcile|worker|commands|render|publish)/|^src/cli',
    ),
    never('pass-below-the-worker', '^src/reconcile/', '^src/(worker|commands)/|^src/cli'),
    never('render-below-the-commands', '^src/render/', '^src/(worker|commands)/|^src/cli'),
    never('worker-below-the-cli', '^src/worker/', '^src/commands/|^src/cli'),
    // The publisher reads the committed log and talks to sinks: it never runs a pass.
    never(
      'publish-beside-the-pass',
      '^src/publish/',
      '^src/(reconcile|worker|commands|render)/|^src/cli',
    ),
    never('pass-never-publishes', '^src/(reconcile|core|db|prefect)/', '^src/publish/'),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.build.json' },
    tsPreCompilationDeps: true,
  },
};
