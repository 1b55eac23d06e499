// Imported before anything else by the launcher and the benchmark scripts:
// on an older Node (a machine's default `node`, a global install) the
// dependencies fail while loading (undici reads zlib's zstd, new in Node 22.15)
// with a stack trace that does not say what is wrong. This says it in one line.
// Plain JavaScript with no imports, so it runs on any Node.

/** The Node.js major version the project is built and tested with (the `node` devDependency, devEngines). */
export const NODE_MAJOR = 24;

/** The one-line complaint for Node `version` running `script`, or undefined when it is recent enough. */
export function nodeVersionProblem(version, script) {
  const major = Number(version.split('.')[0]);
  if (major >= NODE_MAJOR) return undefined;
  const how = /asa-bench(\.js)?$/.test(script ?? '')
    ? '`npx asa-bench …` or `npm exec asa-bench -- …` in the project folder'
    : `\`./node_modules/.bin/node ${script ?? '<script>'}\` or its npm script (\`npm run …\`)`;
  return `needs Node.js ${NODE_MAJOR} or newer, but this is Node.js v${version}; run it with the project's pinned Node: ${how}`;
}

const script = relativeScript(process.argv[1]);
const problem = nodeVersionProblem(process.versions.node, script);
if (problem !== undefined) {
  process.stderr.write(`${/asa-bench(\.js)?$/.test(script ?? '') ? 'asa-bench' : script}: ${problem}\n`);
  process.exit(2);
}

function relativeScript(file) {
  if (file === undefined) return undefined;
  const cwd = process.cwd();
  return file.startsWith(`${cwd}/`) ? file.slice(cwd.length + 1) : file;
}
