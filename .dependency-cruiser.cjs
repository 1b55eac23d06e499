/**
 * The house's floors, made executable. `npm run lint:imports` (part of
 * `npm test`) fails when an import breaks one of these rules, naming the rule
 * and why it exists. PARTS, FLOORS and NEVER are the executable rules of the
 * architecture whose picture is docs/architecture.json (README "How it fits
 * together"): change them together with the code, that picture and the README,
 * and say why in the commit (test/ci/architecture.test.ts holds the two together).
 */

/** The parts of src/: each is one folder. */
const PARTS = {
  Cli: ['cli'],
  ControlPlane: ['controlplane'],
  Distribute: ['distribute'],
  Export: ['export'],
  Engine: ['engine'],
  Shard: ['shard'],
  Scenarios: ['scenarios'],
  Generators: ['generators'],
  Kube: ['kube'],
  Metrics: ['metrics'],
  Reporters: ['reporters'],
  Analysis: ['analysis'],
  Compare: ['compare'],
  Profiles: ['profiles'],
  Results: ['results'],
  Types: ['types'],
};

/**
 * The floors, top first, as README "How it fits together" draws them: a part
 * imports only parts on the floors below it, and on its own floor only the
 * parts to its right. One rule per part (`floors-<part>`) holds it to that.
 */
const FLOORS = [
  ['Cli'],
  ['Distribute', 'Results', 'Export', 'ControlPlane', 'Profiles'],
  ['Engine'],
  ['Shard', 'Scenarios', 'Generators', 'Metrics', 'Kube'],
  ['Compare', 'Reporters', 'Analysis'],
  ['Types'],
];

/**
 * What must never be, beyond the floors, and why: [from, to, why]. `*` stands for every other part; a
 * list of parts as `from` is one rule for each.
 * Arrows that are allowed need no entry; these are the back-arrows that
 * would turn the floors into a tangle.
 */
const NEVER = [
  ['*', 'Cli', 'only the CLI prints, exits and wires commands: nothing below it imports it'],
  ['Types', '*', 'the result model is the ground floor: plain values that import no other part'],
  ['Results', 'Kube', 'the run directory never talks to a server'],
  ['Results', 'Scenarios', 'plan facts reach the run directory as values in the result'],
  ['Results', 'ControlPlane', 'the run directory knows no server: the CLI hands it the log folder'],
  [
    ['Engine', 'Shard', 'Scenarios', 'Generators', 'Metrics', 'Kube', 'Reporters', 'Analysis', 'Compare', 'Profiles', 'Export', 'ControlPlane'],
    'Results',
    'the run directory is written by the CLI (through the results writer, which takes the engine\'s events) and read by the CLI: the parts below it hand over and take values',
  ],
  ['Kube', 'Engine', 'transport knows no scenarios'],
  ['Kube', 'Metrics', 'error classes belong to the transport'],
  ['Kube', 'Scenarios', 'transport knows no scenarios'],
  ['Metrics', 'Engine', 'metrics know no runner'],
  ['Metrics', 'Scenarios', 'metrics know no scenario'],
  ['Generators', 'Kube', 'generators make objects, never send them'],
  ['Generators', 'Scenarios', 'generators take their own input types'],
  ['Generators', 'Engine', 'generators know no runner'],
  ['Scenarios', 'Engine', 'parsing knows no runner'],
  ['Scenarios', 'Kube', 'parsing never talks to a server'],
  ['Shard', 'Engine', 'slicing and merging know no runner (the threads of the engine use them, not the other way)'],
  ['Export', 'Engine', 'export reads the plan, not the runner'],
  ['ControlPlane', 'Engine', 'the server under test knows nothing of the load'],
  ['Reporters', 'Engine', 'reporters read results only'],
  ['Reporters', 'Kube', 'reporters never talk to a server'],
  ['Reporters', 'Scenarios', 'plan facts (sweep, SLOs) travel in the result'],
  ['Analysis', 'Engine', 'analysis reads results only'],
  ['Analysis', 'Kube', 'analysis never talks to a server'],
  ['Analysis', 'Scenarios', 'plan facts (sweep, SLOs) travel in the result'],
  ['Compare', 'Engine', 'compare reads results only'],
  ['Compare', 'Kube', 'compare never talks to a server'],
  ['Compare', 'Scenarios', 'plan facts (SLOs, sweep) travel in the result'],
  ['Engine', 'Profiles', 'the engine knows no profiler: the CLI wires the probe to its hooks and events'],
  ['Profiles', 'Engine', 'the probe follows the run through hooks and events, not the runner\'s insides'],
  ['Profiles', 'Scenarios', 'the probe takes what it needs of the plan (phase durations) as plain values'],
  ['Reporters', 'Profiles', 'profiles are attributed at run time; reporters read the result'],
  ['Analysis', 'Profiles', 'profiles are attributed at run time; analysis reads the result'],
  ['Compare', 'Profiles', 'profiles are attributed at run time; compare reads the result'],
];

const folders = (part) => {
  const f = PARTS[part];
  if (!f) throw new Error(`.dependency-cruiser.cjs: unknown part ${part}`);
  return f;
};
const under = (list) => `^src/(${list.join('|')})/`;
const ruleName = (from, to) => `${from === '*' ? 'any' : from}-never-${to === '*' ? 'any' : to}`.toLowerCase();

/** The parts a part may not import: those on the floors above it, and those to its left on its own floor. */
function floorRule(part) {
  const floor = FLOORS.findIndex((f) => f.includes(part));
  const above = FLOORS.slice(0, floor).flat();
  const left = FLOORS[floor].slice(0, FLOORS[floor].indexOf(part));
  const banned = [...above, ...left];
  return {
    name: `floors-${part.toLowerCase()}`,
    comment: `${part} is on floor ${FLOORS.length - floor} of ${FLOORS.length} (README "How it fits together"): it imports only the floors below it and the parts to its right on its own floor, never ${banned.join(', ')}`,
    severity: 'error',
    from: { path: under(folders(part)) },
    to: { path: under(banned.flatMap(folders)) },
  };
}

const floorless = Object.keys(PARTS).filter((p) => !FLOORS.flat().includes(p));
if (floorless.length > 0) throw new Error(`.dependency-cruiser.cjs: parts on no floor: ${floorless.join(', ')}`);

function neverRule([from, to, why]) {
  const rule = { name: ruleName(from, to), comment: why, severity: 'error' };
  if (from === '*') {
    // Every part but the target itself.
    return { ...rule, from: { path: '^src/', pathNot: under(folders(to)) }, to: { path: under(folders(to)) } };
  }
  if (to === '*') {
    return { ...rule, from: { path: under(folders(from)) }, to: { path: '^src/', pathNot: under(folders(from)) } };
  }
  return { ...rule, from: { path: under(folders(from)) }, to: { path: under(folders(to)) } };
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'imports run one way: a cycle means two files cannot be understood (or moved) apart',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-unresolvable',
      comment: 'an import that does not resolve is a typo or a missing dependency',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'no-dev-deps-at-run-time',
      comment: 'src/ runs on users\' machines: a devDependency is not installed there',
      severity: 'error',
      from: { path: '^src/' },
      // k6's own modules (imported by the k6 script, src/export/k6-script) resolve here to their types.
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'], pathNot: '^node_modules/@types/k6/' },
    },
    ...FLOORS.flat().filter((part) => part !== 'Cli').map(floorRule),
    ...NEVER.flatMap(([from, to, why]) => (Array.isArray(from) ? from : [from]).map((f) => neverRule([f, to, why]))),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a type is as much a tie as a value.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
