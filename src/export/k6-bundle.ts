/**
 * Bundles the k6 side of an exported script (k6-script/main.ts) with the real
 * generators it imports into one ES module, with esbuild: the script sends
 * the names and bodies the engine sends because it runs the same code, not a
 * copy. The plan's data (k6-script/work.ts K6ScriptPlan) stands above the
 * code as `const ASA_PLAN = {...}`, readable and editable.
 *
 * esbuild reads the TypeScript sources (src/), from the compiled CLI (dist/)
 * too: both sit two levels below the package root.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { AsaError, ExitCode } from '../types/errors.js';
import type { K6ScriptPlan } from './k6-script/work.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = fileURLToPath(new URL('../../src/export/k6-script/main.ts', import.meta.url));

/** The script's code for a plan: ES2020, k6 modules left as imports, no Node API. */
export function bundleK6Script(plan: K6ScriptPlan): string {
  return `/** What this script runs: generator inputs, per k6 scenario the phase and its work, k6 options. */\nconst ASA_PLAN = ${JSON.stringify(plan, null, 2)};\n\n${bundledCode()}`;
}

let cached: string | undefined;

/** The bundled code is the same for every plan: built once per process. */
function bundledCode(): string {
  if (cached !== undefined) return cached;
  if (!existsSync(ENTRY)) {
    throw new AsaError(`the k6 script sources are missing (${ENTRY})`, ExitCode.internal, 'the k6 export needs the src/ folder of asa-bench beside dist/');
  }
  const result = buildSync({
    entryPoints: [ENTRY],
    // Relative to the package root, so the section comments (`// src/generators/crds.ts`) do not depend on where asa-bench is installed.
    absWorkingDir: ROOT,
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2020',
    external: ['k6', 'k6/*'],
    // Fields that the constructor assigns need no define-semantics helper.
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: false } },
    charset: 'utf8',
    legalComments: 'none',
    logLevel: 'silent',
  });
  cached = result.outputFiles[0]!.text;
  return cached;
}
