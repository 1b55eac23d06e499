import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { stringify } from 'yaml';
import { crdManifest, crdRef, type CrdSpecInput } from '../generators/crds.js';
import { RUN_ID } from '../generators/run-id.js';
import { objectManifest, objectRef, type ObjectSpecInput } from '../generators/objects.js';
import { CrdGenerator, ObjectGenerator } from '../scenarios/schema.js';
import { UsageError } from '../types/errors.js';
import type { Output } from './output.js';

interface GenerateArgs {
  kind: 'crds' | 'objects';
  count: number;
  seed: number;
  'run-id': string;
  groups: number;
  versions: number;
  scope: 'Namespaced' | 'Cluster';
  properties: number;
  depth: number;
  crds: number;
  'size-bytes': number;
  namespaces: number;
  out?: string;
}

export function generateCommand(out: Output, _setExit: (code: number) => void): CommandModule {
  return {
    command: 'generate <kind>',
    describe: 'Write generated CRDs or custom objects as YAML (stdout, or one file each with --out); same flags, same bytes',
    builder: (y) =>
      y
        .positional('kind', { choices: ['crds', 'objects'] as const, demandOption: true })
        .option('count', { type: 'number', default: 10, describe: 'crds: how many CRDs; objects: objects per CRD' })
        .option('seed', { type: 'number', default: 1 })
        .option('run-id', { type: 'string', default: 'rgenerat', describe: 'run id baked into names and labels (8 chars, starts with a letter)' })
        .option('groups', { type: 'number', default: 1, describe: 'API groups the CRDs are spread over' })
        .option('versions', { type: 'number', default: 1 })
        .option('scope', { choices: ['Namespaced', 'Cluster'] as const, default: 'Namespaced' as const })
        .option('properties', { type: 'number', default: 10, describe: 'schema properties per CRD' })
        .option('depth', { type: 'number', default: 2, describe: 'schema nesting depth' })
        .option('crds', { type: 'number', default: 1, describe: 'objects: how many CRDs (same flags as for `generate crds`)' })
        .option('size-bytes', { type: 'number', default: 512, describe: 'objects: payload size' })
        .option('namespaces', { type: 'number', default: 1 })
        .option('out', { type: 'string', describe: 'write one file per object into this folder' })
        .example('$0 generate crds --count 100 --groups 10 > crds.yaml', '')
        .example('$0 generate objects --crds 5 --count 20 --out objs/', ''),
    handler: async (argv) => {
      const args = argv as unknown as GenerateArgs;
      if (!RUN_ID.test(args['run-id'])) throw new UsageError(`--run-id ${args['run-id']}: expected 8 lowercase letters or digits, starting with a letter`);
      const crdCount = args.kind === 'crds' ? args.count : args.crds;
      const crds = CrdGenerator.safeParse({
        count: crdCount,
        groups: args.groups,
        versions: args.versions,
        scope: args.scope,
        schema: { properties: args.properties, depth: args.depth },
      });
      if (!crds.success) throw new UsageError(`invalid generator flags: ${crds.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const crdInput: CrdSpecInput = { seed: args.seed, runId: args['run-id'], crds: crds.data };
      const emit = async (name: string, doc: Record<string, unknown>) => {
        if (args.out) await writeFile(path.join(args.out, `${name}.yaml`), stringify(doc));
        else out.data(`---\n${stringify(doc).trimEnd()}`);
      };
      if (args.out) await mkdir(args.out, { recursive: true });
      if (args.kind === 'crds') {
        for (let i = 0; i < crdCount; i++) await emit(crdRef(crdInput, i).name, crdManifest(crdInput, i));
      } else {
        const objects = ObjectGenerator.safeParse({ perCRD: args.count, sizeBytes: args['size-bytes'], namespaces: args.namespaces });
        if (!objects.success) throw new UsageError(`invalid generator flags: ${objects.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
        const objectInput: ObjectSpecInput = { seed: args.seed, runId: args['run-id'], objects: objects.data };
        for (let c = 0; c < crdCount; c++) {
          const crd = crdRef(crdInput, c);
          for (let j = 0; j < args.count; j++) {
            const ref = objectRef(objectInput, crd, j);
            await emit(`${crd.plural}.${ref.name}`, objectManifest(objectInput, ref));
          }
        }
      }
    },
  };
}
