/**
 * The layers of src/ run one way (docs/architecture.md, DESIGN.md). From the bottom up:
 *
 *   common → measure → protocols → load → testbed → scenario
 *          → faults · conditions · monitor · clients (plug-ins) → bench → results · report → cli
 *
 * A folder imports only from folders below it (and from itself). No cycles anywhere.
 *
 * The systems under test (systems/<name>/) and the sidecars meshbench ships (sidecars/<name>/)
 * stand apart: a system's or sidecar's code never imports the tool's src/, and the tool never
 * imports theirs; the tool reaches them only through their images and their protocols.
 * `npm run lint` runs this.
 */
const LAYERS = [
  'common',
  'measure',
  'protocols',
  'load',
  'testbed',
  'scenario',
  'faults|conditions|monitor|clients',
  'bench',
  'results|report',
  'cli',
];

/** Every layer above `index` (as a path pattern), which it must not import. */
function above(index) {
  return `^src/(${LAYERS.slice(index + 1).join('|')})/`;
}

module.exports = {
  forbidden: [
    ...LAYERS.map((layer, index) => ({
      name: `layer-${layer.replace(/\|/g, '-')}`,
      comment: `src/${layer.split('|').join(', src/')} must not import a layer above it (${LAYERS.slice(index + 1).join(', ')})`,
      severity: 'error',
      from: { path: `^src/(${layer})/` },
      to: index === LAYERS.length - 1 ? { path: '^$' } : { path: above(index) },
    })),
    {
      name: 'plug-ins-apart',
      comment: 'the plug-in folders (faults, conditions, monitor, clients) do not import each other',
      severity: 'error',
      from: { path: '^src/(faults|conditions|monitor|clients)/' },
      to: { path: '^src/(faults|conditions|monitor|clients)/', pathNot: '^src/$1/' },
    },
    {
      name: 'results-report-one-way',
      comment: 'results is the record format; report renders it and may read it, not the other way',
      severity: 'error',
      from: { path: '^src/results/' },
      to: { path: '^src/report/' },
    },
    {
      name: 'systems-apart',
      comment:
        "a system under test or a sidecar is built and shipped on its own: its code never imports the tool's src/",
      severity: 'error',
      from: { path: '^(systems|sidecars)/[^/]+/src/' },
      to: { path: '^src/' },
    },
    {
      name: 'systems-not-imported',
      comment: 'the tool talks to the systems under test over the network, never by import',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(systems|sidecars)/' },
    },
    {
      name: 'systems-apart-from-each-other',
      comment: 'one system does not import another',
      severity: 'error',
      from: { path: '^systems/([^/]+)/' },
      to: { path: '^systems/', pathNot: '^systems/$1/' },
    },
    {
      name: 'local-remote-apart',
      comment:
        'the testbeds (local, remote, attached, sandbox) share code through src/testbed/, not each other',
      severity: 'error',
      from: { path: '^src/testbed/(local|remote|attached|sandbox)/' },
      to: { path: '^src/testbed/(local|remote|attached|sandbox)/', pathNot: '^src/testbed/$1/' },
    },
    {
      name: 'no-circular',
      comment:
        'no import cycles at run time; a cycle through type-only imports (an owner and the interface it hands out) erases at compile time',
      severity: 'error',
      from: { path: '^(src|systems)/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'known-folders',
      comment: 'every folder of src/ has its place in the layers above; a new one gets a rule first',
      severity: 'error',
      from: {
        path: '^src/',
        pathNot: `^src/(${LAYERS.join('|')})/|^src/index\\.ts$`,
      },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    includeOnly: '^(src|systems|sidecars)/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
