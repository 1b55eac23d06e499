/**
 * Reading and combining Go pprof profiles (`profile.proto`, gzipped, as served
 * by /debug/pprof/*) with the `pprof-format` library: no protobuf code of our own.
 * Decoded profiles become plain stacks of function names (leaf first) with one
 * value per sample type, which is all the component attribution needs.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { Function as PFunction, Line, Location, Mapping, Profile, Sample, StringTable, ValueType } from 'pprof-format';

export interface ProfileSample {
  /** Function names, leaf first (inlined frames expanded, innermost first). */
  stack: string[];
  /** One value per sample type (e.g. samples and cpu nanoseconds; or alloc/inuse objects and space). */
  values: number[];
}

export interface DecodedProfile {
  /** e.g. `samples/count`, `cpu/nanoseconds`; `inuse_space/bytes` for heap profiles. */
  sampleTypes: { type: string; unit: string }[];
  /** Wall time the profile covers (CPU profiles), nanoseconds; 0 when unknown. */
  durationNanos: number;
  samples: ProfileSample[];
}

/** True when the bytes start with the gzip magic number. */
function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function parse(bytes: Uint8Array): Profile {
  return Profile.decode(isGzip(bytes) ? gunzipSync(bytes) : bytes);
}

/** Decodes a (gzipped or plain) profile.proto. Throws on bytes that are not one. */
export function decodeProfile(bytes: Uint8Array): DecodedProfile {
  const p = parse(bytes);
  const str = (i: number | bigint) => p.stringTable.strings[Number(i)] ?? '';
  const functionName = new Map<number, string>();
  for (const f of p.function) functionName.set(Number(f.id), str(f.name));
  const frames = new Map<number, string[]>();
  for (const loc of p.location) {
    // pprof: with inlining, the last line is the caller into which the preceding ones were inlined.
    const names = loc.line.map((l) => functionName.get(Number(l.functionId)) ?? '?');
    frames.set(Number(loc.id), names.length > 0 ? names : [`0x${Number(loc.address).toString(16)}`]);
  }
  return {
    sampleTypes: p.sampleType.map((t) => ({ type: str(t.type), unit: str(t.unit) })),
    durationNanos: Number(p.durationNanos),
    samples: p.sample.map((s) => ({
      stack: s.locationId.flatMap((id) => frames.get(Number(id)) ?? ['?']),
      values: s.value.map(Number),
    })),
  };
}

/** Index of a sample type by name (e.g. `cpu`, `inuse_space`), or -1. */
export function sampleTypeIndex(profile: DecodedProfile, type: string): number {
  return profile.sampleTypes.findIndex((t) => t.type === type);
}

/**
 * Merges profiles of the same kind (consecutive CPU profiles of one phase) into one
 * gzipped profile.proto that `go tool pprof` opens: strings, functions, mappings and
 * locations are re-interned by content, samples concatenated, durations added.
 */
export function mergeProfiles(parts: readonly Uint8Array[]): Buffer {
  if (parts.length === 0) throw new Error('no profiles to merge');
  const profiles = parts.map(parse);
  const strings = new StringTable();
  const out = new Profile({ stringTable: strings });
  const first = profiles[0]!;
  const s = (p: Profile, i: number | bigint) => strings.dedup(p.stringTable.strings[Number(i)] ?? '');
  out.sampleType = first.sampleType.map((t) => new ValueType({ type: s(first, t.type), unit: s(first, t.unit) }));
  if (first.periodType) out.periodType = new ValueType({ type: s(first, first.periodType.type), unit: s(first, first.periodType.unit) });
  out.period = first.period;
  out.defaultSampleType = first.defaultSampleType === 0 ? 0 : s(first, first.defaultSampleType);
  const types = first.sampleType.map((t) => `${first.stringTable.strings[Number(t.type)]}/${first.stringTable.strings[Number(t.unit)]}`).join(',');
  const functions = new Map<string, number>();
  const mappings = new Map<string, number>();
  const locations = new Map<string, number>();
  let timeNanos = Infinity;
  let durationNanos = 0;
  for (const p of profiles) {
    const pTypes = p.sampleType.map((t) => `${p.stringTable.strings[Number(t.type)]}/${p.stringTable.strings[Number(t.unit)]}`).join(',');
    if (pTypes !== types) throw new Error(`cannot merge profiles of different sample types (${types} and ${pTypes})`);
    if (Number(p.timeNanos) > 0) timeNanos = Math.min(timeNanos, Number(p.timeNanos));
    durationNanos += Number(p.durationNanos);
    const fnIds = new Map<number, number>();
    for (const f of p.function) {
      const fields = [s(p, f.name), s(p, f.systemName), s(p, f.filename), Number(f.startLine)];
      const key = fields.join(',');
      let id = functions.get(key);
      if (id === undefined) {
        id = functions.size + 1;
        functions.set(key, id);
        out.function.push(new PFunction({ id, name: fields[0], systemName: fields[1], filename: fields[2], startLine: fields[3] }));
      }
      fnIds.set(Number(f.id), id);
    }
    const mapIds = new Map<number, number>();
    for (const m of p.mapping) {
      const fields = { memoryStart: m.memoryStart, memoryLimit: m.memoryLimit, fileOffset: m.fileOffset, filename: s(p, m.filename), buildId: s(p, m.buildId) };
      const key = Object.values(fields).map(String).join(',');
      let id = mappings.get(key);
      if (id === undefined) {
        id = mappings.size + 1;
        mappings.set(key, id);
        out.mapping.push(new Mapping({ ...fields, id, hasFunctions: m.hasFunctions, hasFilenames: m.hasFilenames, hasLineNumbers: m.hasLineNumbers, hasInlineFrames: m.hasInlineFrames }));
      }
      mapIds.set(Number(m.id), id);
    }
    const locIds = new Map<number, number>();
    for (const l of p.location) {
      const mappingId = mapIds.get(Number(l.mappingId)) ?? 0;
      const lines = l.line.map((x) => ({ functionId: fnIds.get(Number(x.functionId)) ?? 0, line: Number(x.line) }));
      const key = `${mappingId},${String(l.address)},${lines.map((x) => `${x.functionId}:${x.line}`).join(';')}`;
      let id = locations.get(key);
      if (id === undefined) {
        id = locations.size + 1;
        locations.set(key, id);
        out.location.push(new Location({ id, mappingId, address: l.address, isFolded: l.isFolded, line: lines.map((x) => new Line(x)) }));
      }
      locIds.set(Number(l.id), id);
    }
    for (const smp of p.sample) {
      // Labels (goroutine labels in CPU profiles) are dropped: attribution does not read them.
      out.sample.push(new Sample({ locationId: smp.locationId.map((id) => locIds.get(Number(id)) ?? 0), value: smp.value }));
    }
  }
  out.timeNanos = Number.isFinite(timeNanos) ? timeNanos : 0;
  out.durationNanos = durationNanos;
  return gzipSync(out.encode());
}
