/**
 * scenarios/scenario.schema.json is generated from the zod schema by
 * scripts/generate-json-schema.js; these tests keep the committed file in
 * step with src/scenarios/schema.ts (regenerate with `npm run schema`).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ZodType } from 'zod';
import { Scenario } from '../../src/scenarios/schema.js';

interface GeneratorModule {
  renderScenarioJsonSchema(scenario: ZodType): string;
  SCHEMA_ID: string;
  SCHEMA_TITLE: string;
}

// A plain-JS script (run by plain node against dist/); loaded through a URL so
// the type checker does not need declarations for it.
const script = new URL('../../scripts/generate-json-schema.js', import.meta.url).href;
const { renderScenarioJsonSchema, SCHEMA_ID, SCHEMA_TITLE } = (await import(script)) as GeneratorModule;

const committedText = readFileSync(new URL('../../scenarios/scenario.schema.json', import.meta.url), 'utf8');
const committed = JSON.parse(committedText) as JsonSchema;

interface JsonSchema {
  $schema?: string;
  $id?: string;
  title?: string;
  description?: string;
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  const?: unknown;
  default?: unknown;
}

/** Every object schema reachable from `schema`, with its JSON pointer. */
function objectSchemas(schema: JsonSchema, pointer = '#'): { pointer: string; schema: JsonSchema }[] {
  const out: { pointer: string; schema: JsonSchema }[] = [];
  if (schema.type === 'object' && schema.properties) out.push({ pointer, schema });
  for (const [k, v] of Object.entries(schema.properties ?? {})) out.push(...objectSchemas(v, `${pointer}/properties/${k}`));
  if (schema.items) out.push(...objectSchemas(schema.items, `${pointer}/items`));
  (schema.oneOf ?? []).forEach((s, i) => out.push(...objectSchemas(s, `${pointer}/oneOf/${i}`)));
  (schema.anyOf ?? []).forEach((s, i) => out.push(...objectSchemas(s, `${pointer}/anyOf/${i}`)));
  return out;
}

function phaseSchemas(schema: JsonSchema): JsonSchema[] {
  const items = schema.properties?.phases?.items;
  return items?.oneOf ?? items?.anyOf ?? [];
}

describe('scenarios/scenario.schema.json', () => {
  it('equals a fresh generation from src/scenarios/schema.ts (run `npm run schema` if this fails)', () => {
    expect(committedText).toBe(renderScenarioJsonSchema(Scenario));
  });

  it('is a draft 2020-12 schema with an $id, a title and the descriptions', () => {
    expect(committed.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(committed.$id).toBe(SCHEMA_ID);
    expect(committed.title).toBe(SCHEMA_TITLE);
    expect(committed.description).toBe('An asa-bench scenario.');
    expect(committed.properties?.seed?.description).toMatch(/same seed/);
    expect(committed.properties?.generate?.properties?.crds?.properties?.count?.description).toMatch(/Total CRDs/);
  });

  it('describes the input side: keys with defaults are optional', () => {
    expect(committed.required).toEqual(['version', 'name', 'phases']);
    expect(committed.properties?.seed?.default).toBe(1);
    expect(committed.properties?.version?.const).toBe(1);
  });

  it('has one schema per phase op, each rejecting unknown keys such as `concurency`', () => {
    const phases = phaseSchemas(committed);
    expect(phases.map((p) => p.properties?.op?.const)).toEqual(['create', 'patch', 'delete', 'list', 'get', 'discovery', 'openapi', 'watch', 'mix']);
    for (const phase of phases) {
      expect(phase.additionalProperties).toBe(false);
      expect(Object.keys(phase.properties ?? {})).not.toContain('concurency');
      expect(phase.required).toContain('name');
      expect(phase.required).toContain('op');
    }
    const closedModel = phases.filter((p) => p.properties?.op?.const !== 'watch');
    for (const phase of closedModel) expect(Object.keys(phase.properties ?? {})).toContain('concurrency');
  });

  it('rejects unknown keys in every object (strict objects all the way down)', () => {
    const objects = objectSchemas(committed);
    expect(objects.length).toBeGreaterThanOrEqual(14);
    const open = objects.filter(({ schema }) => schema.additionalProperties !== false).map(({ pointer }) => pointer);
    expect(open).toEqual([]);
  });

  it('keeps the slo map keyed by phase.percentile with duration values', () => {
    const slo = committed.properties?.slo as JsonSchema & { propertyNames?: { pattern?: string }; additionalProperties?: { pattern?: string } };
    expect(slo.propertyNames?.pattern).toContain('p99');
    expect(slo.additionalProperties?.pattern).toContain('ms|s|m|h');
  });
});
