#!/usr/bin/env node
/**
 * Writes scenarios/scenario.schema.json, the JSON Schema of scenario files
 * (for editor completion and validation, e.g. the YAML language server), from
 * the zod `Scenario` schema in src/scenarios/schema.ts, the single definition.
 *
 *   npm run schema                                   build, then write the file
 *   node scripts/generate-json-schema.js             write it from dist/ (needs `npm run build`)
 *   node scripts/generate-json-schema.js --check     exit 1 if the committed file is stale
 *
 * Plain ESM JavaScript so that plain `node` runs it: it reads the compiled
 * schema from dist/. test/scenarios/json-schema.test.ts calls
 * renderScenarioJsonSchema() with the TypeScript source instead, and fails
 * when the committed file differs from a fresh generation.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const SCHEMA_ID = 'https://asa-bench.io/schemas/scenario.schema.json';
export const SCHEMA_TITLE = 'asa-bench scenario';
export const OUTPUT = fileURLToPath(new URL('../scenarios/scenario.schema.json', import.meta.url));

/** zod's bounds for z.int(): true of every JSON integer an editor will see, so only noise. */
const SAFE_BOUNDS = new Set([Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);

/**
 * The JSON Schema (draft 2020-12) of what a scenario file may contain: the
 * schema's input side, so keys with defaults are optional.
 * @param {import('zod').ZodType} scenario the zod `Scenario` schema
 * @returns {Record<string, unknown>}
 */
export function scenarioJsonSchema(scenario) {
  const generated = /** @type {Record<string, unknown>} */ (z.toJSONSchema(scenario, { io: 'input', target: 'draft-2020-12', unrepresentable: 'throw' }));
  const { $schema, ...rest } = generated;
  return /** @type {Record<string, unknown>} */ (dropSafeBounds({ $schema, $id: SCHEMA_ID, title: SCHEMA_TITLE, ...rest }));
}

/**
 * The file's exact text: 2-space JSON and a final newline.
 * @param {import('zod').ZodType} scenario
 * @returns {string}
 */
export function renderScenarioJsonSchema(scenario) {
  return `${JSON.stringify(scenarioJsonSchema(scenario), null, 2)}\n`;
}

/**
 * @param {unknown} value
 * @returns {unknown}
 */
function dropSafeBounds(value) {
  if (Array.isArray(value)) return value.map(dropSafeBounds);
  if (value === null || typeof value !== 'object') return value;
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [key, v] of Object.entries(value)) {
    if ((key === 'minimum' || key === 'maximum') && typeof v === 'number' && SAFE_BOUNDS.has(v)) continue;
    out[key] = dropSafeBounds(v);
  }
  return out;
}

async function main() {
  const check = process.argv.includes('--check');
  const compiled = new URL('../dist/scenarios/schema.js', import.meta.url);
  /** @type {{ Scenario: import('zod').ZodType }} */
  let mod;
  try {
    mod = await import(compiled.href);
  } catch (err) {
    process.stderr.write(`cannot load ${fileURLToPath(compiled)} (${err instanceof Error ? err.message : String(err)}); run \`npm run build\` first\n`);
    process.exitCode = 2;
    return;
  }
  const text = renderScenarioJsonSchema(mod.Scenario);
  if (check) {
    const current = await readFile(OUTPUT, 'utf8').catch(() => '');
    if (current !== text) {
      process.stderr.write(`${OUTPUT} is stale: run \`npm run schema\`\n`);
      process.exitCode = 1;
    }
    return;
  }
  await writeFile(OUTPUT, text);
  process.stdout.write(`wrote ${OUTPUT}\n`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
