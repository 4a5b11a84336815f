/**
 * The layers of src/ run one way (docs/architecture.md, DESIGN.md). From the bottom up:
 *
 *   common → measure → protocols → load → testbed → faults · monitor · clients (plug-ins)
 *          → bench → results · report → cli
 *
 * A folder imports only from folders below it (and from itself). src/node/ (the reference
 * node) stands apart and imports only common/. No cycles anywhere. `npm run lint` runs this.
 */
const LAYERS = [
  'common',
  'measure',
  'protocols',
  'load',
  'testbed',
  'faults|monitor|clients',
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
      name: `layer-${layer.replace('|', '-')}`,
      comment: `src/${layer.split('|').join(', src/')} must not import a layer above it (${LAYERS.slice(index + 1).join(', ')})`,
      severity: 'error',
      from: { path: `^src/(${layer})/` },
      to: index === LAYERS.length - 1 ? { path: '^$' } : { path: above(index) },
    })),
    {
      name: 'plug-ins-apart',
      comment: 'the plug-in folders (faults, monitor, clients) do not import each other',
      severity: 'error',
      from: { path: '^src/(faults|monitor|clients)/' },
      to: { path: '^src/(faults|monitor|clients)/', pathNot: '^src/$1/' },
    },
    {
      name: 'results-report-one-way',
      comment: 'results is the record format; report renders it and may read it, not the other way',
      severity: 'error',
      from: { path: '^src/results/' },
      to: { path: '^src/report/' },
    },
    {
      name: 'refnode-apart',
      comment: 'the reference node imports only src/common/ (it is bundled and shipped on its own)',
      severity: 'error',
      from: { path: '^src/node/' },
      to: { path: '^src/', pathNot: '^src/(node|common)/' },
    },
    {
      name: 'nothing-imports-refnode',
      comment: 'the tool talks to the reference node over the network, never by import',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/node/' },
      to: { path: '^src/node/' },
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
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'known-folders',
      comment: 'every folder of src/ has its place in the layers above; a new one gets a rule first',
      severity: 'error',
      from: {
        path: '^src/',
        pathNot:
          '^src/(common|measure|protocols|load|testbed|faults|monitor|clients|bench|results|report|cli|node)/|^src/index\\.ts$',
      },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
