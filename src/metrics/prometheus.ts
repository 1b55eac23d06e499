/**
 * A parser for the Prometheus text exposition format 0.0.4, written by hand:
 * the common npm parser drops labelled histograms, and the kube-apiserver's
 * /metrics (several MB, ~100k lines) has to parse in milliseconds. It never
 * throws on input: a line it cannot read is counted in `malformed` and skipped.
 *
 * Also the PromQL-like helpers the server-metrics layer needs: sums by label,
 * histograms grouped by labels, `histogram_quantile` and scrape-to-scrape
 * deltas.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name, e.g. `apiserver_request_duration_seconds_bucket`. */
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch, when the line carries one. */
  timestamp?: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string;
  /** For histograms and summaries, also the `_bucket`, `_sum` and `_count` samples. */
  samples: Sample[];
}

/** Families by name. */
export type MetricFamilies = ReadonlyMap<string, MetricFamily>;

export interface ParsedMetrics {
  families: Map<string, MetricFamily>;
  /** Lines that could not be read and were skipped. */
  malformed: number;
  /** The histogram families of ParserOptions.fold, summed as parsed (their samples are not in `families`). */
  histograms: Map<string, HistogramFolder>;
}

/** A cumulative histogram bucket: observations ≤ `le` (the last one is `+Inf`). */
export interface Bucket {
  le: number;
  count: number;
}

export interface HistogramData {
  /** Cumulative, ascending by `le`, ending with `le: Infinity`. */
  buckets: Bucket[];
  sum: number;
  count: number;
}

export interface HistogramGroup extends HistogramData {
  /** Values of the `groupBy` labels for this group (absent labels read as ""). */
  labels: Record<string, string>;
}

/** Exact value, regular expression, or predicate; an absent label matches as "". */
export type LabelMatcher = string | RegExp | ((value: string) => boolean);
export type LabelFilter = Readonly<Record<string, LabelMatcher>>;

const TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

// Character codes.
const TAB = 9;
const SPACE = 32;
const QUOTE = 34;
const HASH = 35;
const COMMA = 44;
const EQUALS = 61;
const BACKSLASH = 92;
const LBRACE = 123;
const RBRACE = 125;
const LOWER_N = 110;

function isNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58; // a-z A-Z _ :
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57);
}

function isLabelNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (c >= 48 && c <= 57);
}

function skipBlanks(line: string, i: number): number {
  let c = line.charCodeAt(i);
  while (c === SPACE || c === TAB) c = line.charCodeAt(++i);
  return i;
}

/** End of a token: the next blank or the end of the line. */
function tokenEnd(line: string, i: number): number {
  const n = line.length;
  while (i < n) {
    const c = line.charCodeAt(i);
    if (c === SPACE || c === TAB) break;
    i++;
  }
  return i;
}

/** A sample value as Go's ParseFloat reads it (so `+Inf`, `-Inf`, `NaN`), or undefined. */
export function parseValue(token: string): number | undefined {
  if (token.length === 0) return undefined;
  const v = Number(token);
  if (!Number.isNaN(v)) return v;
  switch (token.toLowerCase()) {
    case 'nan':
      return Number.NaN;
    case '+inf':
    case 'inf':
    case '+infinity':
    case 'infinity':
      return Number.POSITIVE_INFINITY;
    case '-inf':
    case '-infinity':
      return Number.NEGATIVE_INFINITY;
    default:
      return undefined;
  }
}

function setLabel(labels: Record<string, string>, name: string, value: string): void {
  if (name === '__proto__') Object.defineProperty(labels, name, { value, enumerable: true, writable: true, configurable: true });
  else labels[name] = value;
}

/**
 * The slow path of a label value: from `valueStart`, with the first backslash
 * at `i`. Unescapes \\, \" and \n up to the closing quote; `end` is just past
 * it. Undefined for another escape or no closing quote.
 */
function readEscapedValue(line: string, valueStart: number, i: number): { value: string; end: number } | undefined {
  const n = line.length;
  let out = line.slice(valueStart, i);
  while (i < n) {
    const c = line.charCodeAt(i);
    if (c === QUOTE) return { value: out, end: i + 1 };
    if (c === BACKSLASH) {
      const e = line.charCodeAt(i + 1);
      if (e === BACKSLASH) out += '\\';
      else if (e === QUOTE) out += '"';
      else if (e === LOWER_N) out += '\n';
      else return undefined;
      i += 2;
    } else {
      // Copy the run up to the next special character in one slice.
      let j = i + 1;
      while (j < n) {
        const d = line.charCodeAt(j);
        if (d === QUOTE || d === BACKSLASH) break;
        j++;
      }
      out += line.slice(i, j);
      i = j;
    }
  }
  return undefined;
}

/** Parses one sample line; undefined when malformed. */
function parseSample(line: string): Sample | undefined {
  const n = line.length;
  let i = 0;
  if (!isNameStart(line.charCodeAt(0))) return undefined;
  i = 1;
  while (i < n && isNameChar(line.charCodeAt(i))) i++;
  const name = line.slice(0, i);
  const labels: Record<string, string> = {};
  i = skipBlanks(line, i);
  if (line.charCodeAt(i) === LBRACE) {
    i++;
    for (;;) {
      i = skipBlanks(line, i);
      if (i >= n) return undefined;
      if (line.charCodeAt(i) === RBRACE) {
        i++;
        break;
      }
      const nameStart = i;
      while (i < n && isLabelNameChar(line.charCodeAt(i))) i++;
      if (i === nameStart) return undefined;
      const labelName = line.slice(nameStart, i);
      i = skipBlanks(line, i);
      if (line.charCodeAt(i) !== EQUALS) return undefined;
      i = skipBlanks(line, i + 1);
      if (line.charCodeAt(i) !== QUOTE) return undefined;
      i++;
      // Fast path: no escapes before the closing quote.
      const valueStart = i;
      let escaped = false;
      while (i < n) {
        const c = line.charCodeAt(i);
        if (c === QUOTE) break;
        if (c === BACKSLASH) {
          escaped = true;
          break;
        }
        i++;
      }
      let value: string;
      if (!escaped) {
        if (i >= n) return undefined;
        value = line.slice(valueStart, i);
        i++;
      } else {
        const read = readEscapedValue(line, valueStart, i);
        if (!read) return undefined;
        value = read.value;
        i = read.end;
      }
      setLabel(labels, labelName, value);
      i = skipBlanks(line, i);
      const sep = line.charCodeAt(i);
      if (sep === COMMA) i++;
      else if (sep !== RBRACE) return undefined;
    }
    i = skipBlanks(line, i);
  } else if (i === name.length) {
    // A bare name must be followed by a blank (a name char would have been consumed).
    return undefined;
  }
  const valueEnd = tokenEnd(line, i);
  const value = parseValue(line.slice(i, valueEnd));
  if (value === undefined) return undefined;
  i = skipBlanks(line, valueEnd);
  if (i >= n) return { name, labels, value };
  const tsEnd = tokenEnd(line, i);
  const ts = Number(line.slice(i, tsEnd));
  if (!Number.isFinite(ts)) return undefined;
  if (skipBlanks(line, tsEnd) < n) return undefined;
  return { name, labels, value, timestamp: ts };
}

function unescapeHelp(text: string): string {
  if (!text.includes('\\')) return text;
  return text.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

/**
 * Parses a text exposition (format 0.0.4). Samples named `<base>_bucket`
 * (histograms) and `<base>_sum` / `<base>_count` (histograms and summaries)
 * belong to the family `<base>`; samples with no `# TYPE` form an `untyped`
 * family of their own name.
 */
export function parsePrometheusText(text: string, options: ParserOptions = {}): ParsedMetrics {
  const parser = new PrometheusTextParser(options);
  let start = 0;
  const len = text.length;
  while (start < len) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = len;
    parser.line(text.slice(start, end));
    start = end + 1;
  }
  return parser.result();
}

/**
 * The same parser fed one line at a time, so a scrape is parsed as its body
 * arrives: a 45 MB /metrics (thousands of CRDs) never blocks the load loop
 * for the whole parse, only for one network chunk's lines at a time.
 */
export interface ParserOptions {
  /**
   * Keep only samples of these families (by family name; `_bucket`, `_sum`,
   * `_count` samples go with their base). The others are skipped before their
   * labels are read: with thousands of CRDs most of /metrics is per-resource
   * series a consumer may not need. Skipped lines are not checked, so
   * `malformed` counts only lines of the kept families.
   */
  families?: ReadonlySet<string>;
  /**
   * Histogram families (by base name) summed into groups as their samples are
   * parsed (HistogramFolder), instead of kept as samples: the result's
   * `histograms`. A scrape then holds one accumulator per group, not every
   * bucket sample until its end.
   */
  fold?: ReadonlyMap<string, HistogramFold>;
}

export class PrometheusTextParser {
  constructor(private readonly options: ParserOptions = {}) {}
  private readonly families = new Map<string, MetricFamily>();
  /** Sample name → family, so the suffix rules run once per name. */
  private readonly owner = new Map<string, MetricFamily>();
  private readonly folders = new Map<string, HistogramFolder>();
  /** Sample name → its folder, or null when it is not folded. */
  private readonly folderOf = new Map<string, HistogramFolder | null>();
  private malformed = 0;

  result(): ParsedMetrics {
    return { families: this.families, malformed: this.malformed, histograms: this.folders };
  }

  private folder(sampleName: string): HistogramFolder | undefined {
    let f = this.folderOf.get(sampleName);
    if (f === undefined) {
      f = null;
      const cut = sampleName.lastIndexOf('_');
      const suffix = cut > 0 ? sampleName.slice(cut) : '';
      const base = sampleName.slice(0, cut);
      const fold = this.options.fold?.get(base);
      if (fold && (suffix === '_bucket' || suffix === '_sum' || suffix === '_count')) {
        f = this.folders.get(base) ?? new HistogramFolder(base, fold);
        this.folders.set(base, f);
      }
      this.folderOf.set(sampleName, f);
    }
    return f ?? undefined;
  }

  private family(name: string): MetricFamily {
    let f = this.families.get(name);
    if (!f) {
      f = { name, type: 'untyped', help: '', samples: [] };
      this.families.set(name, f);
    }
    return f;
  }

  private ownerOf(sampleName: string): MetricFamily {
    const cached = this.owner.get(sampleName);
    if (cached) return cached;
    let f = this.families.get(sampleName);
    if (!f) {
      const cut = sampleName.lastIndexOf('_');
      if (cut > 0) {
        const suffix = sampleName.slice(cut);
        const base = this.families.get(sampleName.slice(0, cut));
        if (base && (base.type === 'histogram' ? suffix === '_bucket' || suffix === '_sum' || suffix === '_count' : base.type === 'summary' && (suffix === '_sum' || suffix === '_count'))) {
          f = base;
        }
      }
    }
    f ??= this.family(sampleName);
    this.owner.set(sampleName, f);
    return f;
  }

  /** One line, without its `\n` (a trailing `\r` is dropped). */
  line(raw: string): void {
    let line = raw;
    if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1); // \r\n
    let i = skipBlanks(line, 0);
    if (i >= line.length) return;
    if (i > 0) line = line.slice(i);
    if (line.charCodeAt(0) === HASH) {
      // `# HELP name text`, `# TYPE name type`; any other comment is ignored.
      i = skipBlanks(line, 1);
      const kwEnd = tokenEnd(line, i);
      const keyword = line.slice(i, kwEnd);
      if (keyword !== 'HELP' && keyword !== 'TYPE') return;
      const nameStart = skipBlanks(line, kwEnd);
      const nameEnd = tokenEnd(line, nameStart);
      const name = line.slice(nameStart, nameEnd);
      if (name.length === 0 || !isNameStart(name.charCodeAt(0)) || ![...name].every((ch) => isNameChar(ch.charCodeAt(0)))) {
        this.malformed++;
        return;
      }
      const rest = line.slice(skipBlanks(line, nameEnd));
      if (keyword === 'HELP') {
        this.family(name).help = unescapeHelp(rest);
      } else {
        const type = rest.trimEnd().toLowerCase();
        const f = this.families.get(name);
        if (!TYPES.has(type) && type !== 'unknown') this.malformed++;
        else if (f && f.type !== 'untyped' && f.type !== type) this.malformed++;
        else if (f && f.samples.length > 0 && f.type !== type) this.malformed++; // TYPE after its samples
        else this.family(name).type = type === 'unknown' ? 'untyped' : (type as MetricType);
      }
      return;
    }
    if (this.options.families && !this.wanted(line)) return;
    const sample = parseSample(line);
    if (!sample) {
      this.malformed++;
      return;
    }
    const folder = this.options.fold ? this.folder(sample.name) : undefined;
    if (folder) folder.add(sample);
    else this.ownerOf(sample.name).samples.push(sample);
  }

  /** Whether a sample line's metric (name up to `{` or a blank) is one of `options.families`. */
  private wanted(line: string): boolean {
    let end = 0;
    while (end < line.length) {
      const c = line.charCodeAt(end);
      if (c === LBRACE || c === SPACE || c === TAB) break;
      end++;
    }
    const name = line.slice(0, end);
    const keep = this.options.families!;
    if (keep.has(name)) return true;
    const cut = name.lastIndexOf('_');
    if (cut <= 0) return false;
    const suffix = name.slice(cut);
    return (suffix === '_bucket' || suffix === '_sum' || suffix === '_count') && keep.has(name.slice(0, cut));
  }
}

function matches(labels: Record<string, string>, filter: LabelFilter | undefined): boolean {
  if (!filter) return true;
  for (const key in filter) {
    const m = filter[key];
    const v = Object.hasOwn(labels, key) ? (labels[key] ?? '') : '';
    if (typeof m === 'string') {
      if (v !== m) return false;
    } else if (m instanceof RegExp) {
      if (!m.test(v)) return false;
    } else if (m && !m(v)) return false;
  }
  return true;
}

/** The family holding samples named `name` (itself, or the histogram/summary it is a `_bucket`/`_sum`/`_count` of). */
export function familyOf(families: MetricFamilies, name: string): MetricFamily | undefined {
  const f = families.get(name);
  if (f) return f;
  const cut = name.lastIndexOf('_');
  return cut > 0 ? families.get(name.slice(0, cut)) : undefined;
}

/** Whether any sample named `name` exists. */
export function hasSamples(families: MetricFamilies, name: string): boolean {
  return familyOf(families, name)?.samples.some((s) => s.name === name) ?? false;
}

/** Sum of the samples named `name` whose labels match (NaN values skipped); 0 when there are none. */
export function sumSamples(families: MetricFamilies, name: string, labelFilter?: LabelFilter): number {
  const f = familyOf(families, name);
  if (!f) return 0;
  let sum = 0;
  for (const s of f.samples) if (s.name === name && !Number.isNaN(s.value) && matches(s.labels, labelFilter)) sum += s.value;
  return sum;
}

/** Sums of the samples named `name`, by the value of one label (`sum by (label)`). */
export function sumSamplesBy(families: MetricFamilies, name: string, label: string, labelFilter?: LabelFilter): Record<string, number> {
  const out: Record<string, number> = {};
  const f = familyOf(families, name);
  if (!f) return out;
  for (const s of f.samples) {
    if (s.name !== name || Number.isNaN(s.value) || !matches(s.labels, labelFilter)) continue;
    const key = Object.hasOwn(s.labels, label) ? (s.labels[label] ?? '') : '';
    out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}

/**
 * `histogram_quantile(q, …)` as Prometheus computes it: find the bucket
 * holding rank q·count and interpolate linearly inside it (the lowest bucket
 * starts at 0 unless its bound is ≤ 0). A rank in the `+Inf` bucket answers
 * the highest finite bound. NaN when there are no observations, fewer than two
 * buckets, or no `+Inf` bucket; −Inf for q < 0 and +Inf for q > 1.
 */
export function histogramQuantile(q: number, buckets: readonly Bucket[]): number {
  if (Number.isNaN(q)) return Number.NaN;
  if (q < 0) return Number.NEGATIVE_INFINITY;
  if (q > 1) return Number.POSITIVE_INFINITY;
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  // Merge duplicate bounds, then force counts to be monotonic (scrape races).
  const bs: Bucket[] = [];
  for (const b of sorted) {
    const last = bs[bs.length - 1];
    if (last && last.le === b.le) last.count += b.count;
    else bs.push({ le: b.le, count: b.count });
  }
  const n = bs.length;
  const top = bs[n - 1];
  if (n < 2 || !top || top.le !== Number.POSITIVE_INFINITY) return Number.NaN;
  let max = Number.NEGATIVE_INFINITY;
  for (const b of bs) {
    if (b.count < max) b.count = max;
    else max = b.count;
  }
  const observations = top.count;
  if (!(observations > 0)) return Number.NaN;
  let rank = q * observations;
  let b = 0;
  while (b < n - 1 && (bs[b] as Bucket).count < rank) b++;
  if (b === n - 1) return (bs[n - 2] as Bucket).le;
  const bucket = bs[b] as Bucket;
  if (b === 0 && bucket.le <= 0) return bucket.le;
  let start = 0;
  let count = bucket.count;
  if (b > 0) {
    const prev = bs[b - 1] as Bucket;
    start = prev.le;
    count -= prev.count;
    rank -= prev.count;
  }
  if (count <= 0) return start;
  return start + (bucket.le - start) * (rank / count);
}

function parseLe(raw: string | undefined, cache: Map<string, number>): number | undefined {
  if (raw === undefined) return undefined;
  let le = cache.get(raw);
  if (le === undefined) {
    le = parseValue(raw);
    if (le === undefined || Number.isNaN(le)) return undefined;
    cache.set(raw, le);
  }
  return le;
}

/**
 * The histogram family `baseName`, its series matching `labelFilter` summed
 * per group of `groupBy` label values (`sum by (groupBy) (…)`); one group
 * with empty labels when `groupBy` is omitted. Groups come in first-seen order.
 */
export function histogramFromFamily(families: MetricFamilies, baseName: string, labelFilter?: LabelFilter, groupBy?: readonly string[]): HistogramGroup[] {
  const f = families.get(baseName);
  if (!f) return [];
  const folder = new HistogramFolder(baseName, { filter: labelFilter, groupBy });
  for (const s of f.samples) folder.add(s);
  return folder.groups();
}

/** Which series of a histogram family to keep, and the labels to sum them by (see histogramFromFamily). */
export interface HistogramFold {
  filter?: LabelFilter;
  groupBy?: readonly string[];
}

interface FoldAcc {
  labels: Record<string, string>;
  byLe: Map<number, number>;
  sum: number;
  count: number;
  hasCount: boolean;
}

/**
 * One histogram family summed into groups sample by sample, keeping no
 * sample: what histogramFromFamily computes, while a scrape is parsed. The
 * kube-apiserver's request and etcd duration histograms hold ~180,000 bucket
 * samples with 500-1,000 CRDs (an 84 MB /metrics); kept as samples until the
 * scrape ended they were ~97 MB of live heap for its whole duration (seconds).
 */
export class HistogramFolder {
  private readonly accs = new Map<string, FoldAcc>();
  private readonly leCache = new Map<string, number>();
  private readonly keys: readonly string[];
  /** Sample names seen (`<base>_bucket`, `_sum`, `_count`), filtered out or not: what hasSamples would answer. */
  readonly seen = new Set<string>();
  private readonly bucketName: string;
  private readonly sumName: string;
  private readonly countName: string;

  constructor(
    readonly baseName: string,
    private readonly fold: HistogramFold = {},
  ) {
    this.keys = fold.groupBy ?? [];
    this.bucketName = `${baseName}_bucket`;
    this.sumName = `${baseName}_sum`;
    this.countName = `${baseName}_count`;
  }

  /** Adds one sample of the family (samples of other names are ignored). */
  add(s: Sample): void {
    const kind = s.name === this.bucketName ? 0 : s.name === this.sumName ? 1 : s.name === this.countName ? 2 : -1;
    if (kind < 0) return;
    this.seen.add(s.name);
    if (!matches(s.labels, this.fold.filter)) return;
    let key = '';
    for (const k of this.keys) key += `${Object.hasOwn(s.labels, k) ? s.labels[k] : ''}\u0000`;
    let g = this.accs.get(key);
    if (!g) {
      const labels: Record<string, string> = {};
      // Copied: a label value sliced from a line would keep the whole line alive.
      for (const k of this.keys) setLabel(labels, k, Object.hasOwn(s.labels, k) ? flat(s.labels[k] ?? '') : '');
      g = { labels, byLe: new Map(), sum: 0, count: 0, hasCount: false };
      this.accs.set(flat(key), g);
    }
    const v = Number.isNaN(s.value) ? 0 : s.value;
    if (kind === 0) {
      const le = parseLe(s.labels.le, this.leCache);
      if (le === undefined) return;
      g.byLe.set(le, (g.byLe.get(le) ?? 0) + v);
    } else if (kind === 1) {
      g.sum += v;
    } else {
      g.count += v;
      g.hasCount = true;
    }
  }

  groups(): HistogramGroup[] {
    const out: HistogramGroup[] = [];
    for (const g of this.accs.values()) {
      const buckets = [...g.byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
      const inf = buckets[buckets.length - 1];
      const count = g.hasCount ? g.count : inf?.le === Number.POSITIVE_INFINITY ? inf.count : 0;
      if (inf?.le !== Number.POSITIVE_INFINITY) buckets.push({ le: Number.POSITIVE_INFINITY, count });
      out.push({ labels: g.labels, buckets, sum: g.sum, count });
    }
    return out;
  }
}

/** A copy of a string that holds no reference to the string it was sliced from. */
function flat(s: string): string {
  return s.length === 0 ? '' : (' ' + s).slice(1);
}

/** Cumulative count at `le`: exact when the bound exists, else that of the nearest lower bound. */
function cumulativeAt(buckets: readonly Bucket[], le: number): number {
  let c = 0;
  for (const b of buckets) {
    if (b.le > le) break;
    c = b.count;
  }
  return c;
}

/**
 * `b − a`: the observations between two scrapes of one histogram. Bounds are
 * the union of both (a bound one side lacks reads as its nearest lower bound).
 * A counter reset (the server restarted: fewer observations in `b`) answers
 * `b` itself, as Prometheus' `increase` would; `a` undefined (a series new
 * in `b`) does too.
 */
export function diffHistograms(a: HistogramData | undefined, b: HistogramData): HistogramData {
  const copy = (h: HistogramData): HistogramData => ({ buckets: h.buckets.map((x) => ({ le: x.le, count: x.count })), sum: h.sum, count: h.count });
  if (!a || b.count < a.count) return copy(b);
  const bounds = [...new Set([...a.buckets.map((x) => x.le), ...b.buckets.map((x) => x.le)])].sort((x, y) => x - y);
  let prev = 0;
  const buckets = bounds.map((le) => {
    // Keep the difference cumulative and non-negative.
    const count = b.count - a.count;
    prev = Math.min(count, Math.max(prev, cumulativeAt(b.buckets, le) - cumulativeAt(a.buckets, le)));
    return { le, count: prev };
  });
  return { buckets, sum: Math.max(0, b.sum - a.sum), count: b.count - a.count };
}
