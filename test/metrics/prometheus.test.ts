/**
 * The Prometheus text-format parser and its PromQL-like helpers: escapes,
 * special values, labelled histograms kept whole, malformed lines counted,
 * quantile arithmetic checked by hand, and a real kube-apiserver scrape.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  diffHistograms,
  histogramFromFamily,
  histogramQuantile,
  parsePrometheusText,
  parseValue,
  sumSamples,
  sumSamplesBy,
  type Bucket,
} from '../../src/metrics/prometheus.js';

const FIXTURE = new URL('../fixtures/metrics/kube-apiserver-v1.37.2.txt', import.meta.url);
const INF = Number.POSITIVE_INFINITY;

const HISTOGRAM = `# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{verb="GET",resource="pods",le="0.1"} 10
http_request_duration_seconds_bucket{verb="GET",resource="pods",le="0.5"} 30
http_request_duration_seconds_bucket{verb="GET",resource="pods",le="1"} 40
http_request_duration_seconds_bucket{verb="GET",resource="pods",le="+Inf"} 40
http_request_duration_seconds_sum{verb="GET",resource="pods"} 12.5
http_request_duration_seconds_count{verb="GET",resource="pods"} 40
http_request_duration_seconds_bucket{verb="LIST",resource="pods",le="0.1"} 1
http_request_duration_seconds_bucket{verb="LIST",resource="pods",le="0.5"} 2
http_request_duration_seconds_bucket{verb="LIST",resource="pods",le="1"} 3
http_request_duration_seconds_bucket{verb="LIST",resource="pods",le="+Inf"} 4
http_request_duration_seconds_sum{verb="LIST",resource="pods"} 9
http_request_duration_seconds_count{verb="LIST",resource="pods"} 4
http_request_duration_seconds_bucket{verb="GET",resource="nodes",le="0.1"} 5
http_request_duration_seconds_bucket{verb="GET",resource="nodes",le="0.5"} 5
http_request_duration_seconds_bucket{verb="GET",resource="nodes",le="1"} 5
http_request_duration_seconds_bucket{verb="GET",resource="nodes",le="+Inf"} 5
http_request_duration_seconds_sum{verb="GET",resource="nodes"} 0.25
http_request_duration_seconds_count{verb="GET",resource="nodes"} 5
`;

describe('parsePrometheusText', () => {
  it('reads HELP, TYPE, counters and gauges', () => {
    const { families, malformed } = parsePrometheusText(
      '# HELP requests_total Requests served.\n# TYPE requests_total counter\nrequests_total{code="200"} 7\nrequests_total{code="500"} 1\n# TYPE temp gauge\ntemp 21.5\n',
    );
    expect(malformed).toBe(0);
    expect(families.get('requests_total')).toEqual({
      name: 'requests_total',
      type: 'counter',
      help: 'Requests served.',
      samples: [
        { name: 'requests_total', labels: { code: '200' }, value: 7 },
        { name: 'requests_total', labels: { code: '500' }, value: 1 },
      ],
    });
    expect(families.get('temp')).toMatchObject({ type: 'gauge', help: '', samples: [{ name: 'temp', labels: {}, value: 21.5 }] });
  });

  it('unescapes \\" \\\\ and \\n in label values, and \\\\ \\n in HELP', () => {
    const text = [
      '# HELP m A help with a backslash \\\\ and a\\nnewline.',
      '# TYPE m gauge',
      'm{path="C:\\\\dir\\\\file",quote="say \\"hi\\"",nl="line1\\nline2",plain="a,b=c}{"} 1',
      'm{mixed="x\\\\\\"y\\n"} 2',
    ].join('\n');
    const { families, malformed } = parsePrometheusText(text);
    expect(malformed).toBe(0);
    const m = families.get('m');
    expect(m?.help).toBe('A help with a backslash \\ and a\nnewline.');
    expect(m?.samples[0]?.labels).toEqual({ path: 'C:\\dir\\file', quote: 'say "hi"', nl: 'line1\nline2', plain: 'a,b=c}{' });
    expect(m?.samples[1]?.labels).toEqual({ mixed: 'x\\"y\n' });
  });

  it('round-trips any label value through escaping', () => {
    const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ maxLength: 10 }), (a, b) => {
        const { families, malformed } = parsePrometheusText(`x{a="${escape(a)}", b="${escape(b)}",} 3\n`);
        expect(malformed).toBe(0);
        expect(families.get('x')?.samples[0]?.labels).toEqual({ a, b });
      }),
    );
  });

  it('reads +Inf, -Inf, NaN, exponents and timestamps', () => {
    const { families, malformed } = parsePrometheusText(
      'a +Inf\nb -Inf\nc NaN\nd 1.5e+06 1700000000000\ne{l="v"} -0.25   1700000000123  \nf Inf\n',
    );
    expect(malformed).toBe(0);
    const v = (n: string) => families.get(n)?.samples[0];
    expect(v('a')?.value).toBe(INF);
    expect(v('b')?.value).toBe(-INF);
    expect(v('c')?.value).toBeNaN();
    expect(v('d')).toEqual({ name: 'd', labels: {}, value: 1.5e6, timestamp: 1_700_000_000_000 });
    expect(v('e')).toEqual({ name: 'e', labels: { l: 'v' }, value: -0.25, timestamp: 1_700_000_000_123 });
    expect(v('f')?.value).toBe(INF);
    expect(parseValue('+inf')).toBe(INF);
    expect(parseValue('')).toBeUndefined();
    expect(parseValue('1,5')).toBeUndefined();
  });

  it('keeps labelled histograms whole: _bucket, _sum and _count in the base family', () => {
    const { families, malformed } = parsePrometheusText(HISTOGRAM);
    expect(malformed).toBe(0);
    expect([...families.keys()]).toEqual(['http_request_duration_seconds']);
    const f = families.get('http_request_duration_seconds');
    expect(f?.type).toBe('histogram');
    expect(f?.samples).toHaveLength(18);
    expect(f?.samples[0]).toEqual({ name: 'http_request_duration_seconds_bucket', labels: { verb: 'GET', resource: 'pods', le: '0.1' }, value: 10 });
  });

  it('puts summary quantiles, _sum and _count in the summary family', () => {
    const { families } = parsePrometheusText(
      '# TYPE rpc summary\nrpc{quantile="0.5"} 0.2\nrpc{quantile="0.99"} 0.9\nrpc_sum 30\nrpc_count 100\nrpc_bucket{le="1"} 3\n',
    );
    expect(families.get('rpc')?.samples.map((s) => s.name)).toEqual(['rpc', 'rpc', 'rpc_sum', 'rpc_count']);
    // `_bucket` is not part of a summary: it stands alone, untyped.
    expect(families.get('rpc_bucket')?.type).toBe('untyped');
  });

  it('does not fold _count of a gauge family into anything, and types undeclared samples untyped', () => {
    const { families } = parsePrometheusText('# TYPE jobs gauge\njobs 3\njobs_count 4\nloose_metric{a="b"} 5\n');
    expect(families.get('jobs')?.samples).toHaveLength(1);
    expect(families.get('jobs_count')?.type).toBe('untyped');
    expect(families.get('loose_metric')?.type).toBe('untyped');
  });

  it('counts malformed lines and keeps going', () => {
    const lines = [
      '# TYPE ok counter',
      'ok 1',
      'no_value',
      'no_value_labels{a="b"}',
      'bad_value 12abc',
      'unterminated{a="b} 1',
      'bad_escape{a="\\t"} 1',
      'missing_eq{a"b"} 1',
      'unquoted{a=b} 1',
      'no_close{a="b" 1',
      'two_timestamps 1 2 3',
      'bad_timestamp 1 soon',
      '9starts_with_digit 1',
      '{a="b"} 1',
      '# TYPE weird flavour',
      '# HELP',
      '# TYPE ok gauge',
      'ok 2',
      '',
      '   ',
      '# just a comment',
      'ok 3',
    ];
    const { families, malformed } = parsePrometheusText(lines.join('\r\n'));
    expect(malformed).toBe(15);
    expect(families.get('ok')?.type).toBe('counter');
    expect(families.get('ok')?.samples.map((s) => s.value)).toEqual([1, 2, 3]);
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        const r = parsePrometheusText(text);
        expect(r.malformed).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 500 },
    );
  });

  // Correctness at the size of a real /metrics with thousands of CRDs. How fast it
  // parses is a benchmark's business, not a timed assertion here: on a loaded
  // 2-core CI machine a wall-clock limit fails for reasons unrelated to the code.
  it('parses ~100k lines of histogram buckets without losing or misreading one', () => {
    const parts: string[] = ['# HELP big_seconds Latency.', '# TYPE big_seconds histogram'];
    const les = ['0.005', '0.025', '0.05', '0.1', '0.2', '0.4', '0.6', '0.8', '1', '1.25', '1.5', '2', '3', '4', '5', '6', '8', '10', '15', '20', '30', '45', '60', '+Inf'];
    for (let s = 0; parts.length < 100_000; s++) {
      const labels = `component="apiserver",dry_run="",group="bench${s % 50}.example.com",resource="widgets${s}",scope="namespace",subresource="",verb="LIST",version="v1"`;
      les.forEach((le, i) => parts.push(`big_seconds_bucket{${labels},le="${le}"} ${i * s}`));
      parts.push(`big_seconds_sum{${labels}} ${s * 0.5}`, `big_seconds_count{${labels}} ${23 * s}`);
    }
    const text = parts.join('\n');
    const { families, malformed } = parsePrometheusText(text);
    expect(malformed).toBe(0);
    const samples = families.get('big_seconds')?.samples ?? [];
    expect(samples.length).toBe(parts.length - 2);
    // The last series' +Inf bucket: labels and value read back exactly.
    const last = samples.filter((x) => x.labels.le === '+Inf').at(-1);
    expect(last?.labels.resource).toMatch(/^widgets\d+$/);
    expect(last?.value).toBe(23 * Number(last?.labels.resource?.slice('widgets'.length)));
  });
});

describe('sumSamples / sumSamplesBy', () => {
  const { families } = parsePrometheusText(
    'req_total{code="200",verb="GET"} 5\nreq_total{code="200",verb="LIST"} 3\nreq_total{code="429",verb="LIST"} 2\nreq_total{verb="WATCH"} 1\nreq_total{code="500",verb="GET"} NaN\n',
  );

  it('sums all samples, or those matching exact, RegExp and predicate filters', () => {
    expect(sumSamples(families, 'req_total')).toBe(11);
    expect(sumSamples(families, 'req_total', { code: '200' })).toBe(8);
    expect(sumSamples(families, 'req_total', { code: /^2/, verb: 'LIST' })).toBe(3);
    expect(sumSamples(families, 'req_total', { code: (v) => v !== '200' })).toBe(3);
    // An absent label matches as "".
    expect(sumSamples(families, 'req_total', { code: '' })).toBe(1);
    expect(sumSamples(families, 'nope_total')).toBe(0);
  });

  it('sums by one label', () => {
    expect(sumSamplesBy(families, 'req_total', 'code')).toEqual({ '200': 8, '429': 2, '': 1 });
    expect(sumSamplesBy(families, 'req_total', 'verb', { code: '200' })).toEqual({ GET: 5, LIST: 3 });
  });

  it('sums _sum and _count samples of a histogram by their own names', () => {
    const h = parsePrometheusText(HISTOGRAM).families;
    expect(sumSamples(h, 'http_request_duration_seconds_count')).toBe(49);
    expect(sumSamples(h, 'http_request_duration_seconds_sum', { verb: 'GET' })).toBe(12.75);
  });
});

describe('histogramQuantile', () => {
  const buckets: Bucket[] = [
    { le: 0.1, count: 10 },
    { le: 0.5, count: 30 },
    { le: 1, count: 40 },
    { le: INF, count: 40 },
  ];

  it('interpolates linearly inside the bucket holding the rank', () => {
    // rank 20 falls in (0.1, 0.5] holding 20, 10 of them below: 0.1 + 0.4 * 10/20
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.3, 12);
    // rank 39.6 falls in (0.5, 1] holding 10, 30 below: 0.5 + 0.5 * 9.6/10
    expect(histogramQuantile(0.99, buckets)).toBeCloseTo(0.98, 12);
    // rank 4 in the lowest bucket, which starts at 0: 0.1 * 4/10
    expect(histogramQuantile(0.1, buckets)).toBeCloseTo(0.04, 12);
    // rank exactly on a bucket boundary answers that bound
    expect(histogramQuantile(0.75, buckets)).toBeCloseTo(0.5, 12);
    expect(histogramQuantile(1, buckets)).toBeCloseTo(1, 12);
    expect(histogramQuantile(0, buckets)).toBe(0);
  });

  it('answers the highest finite bound for a rank in the +Inf bucket', () => {
    const tail = [...buckets.slice(0, 3), { le: INF, count: 50 }];
    expect(histogramQuantile(0.99, tail)).toBe(1);
  });

  it('sorts unordered buckets and repairs non-monotonic counts', () => {
    const shuffled = [buckets[3], buckets[1], buckets[0], buckets[2]] as Bucket[];
    expect(histogramQuantile(0.5, shuffled)).toBeCloseTo(0.3, 12);
    const dip: Bucket[] = [{ le: 1, count: 10 }, { le: 2, count: 8 }, { le: 3, count: 20 }, { le: INF, count: 20 }];
    // 2 is repaired to 10; rank 15 in (2, 3]: 2 + 1 * 5/10
    expect(histogramQuantile(0.75, dip)).toBeCloseTo(2.5, 12);
  });

  it('handles edge cases as Prometheus does', () => {
    expect(histogramQuantile(0.5, [{ le: 1, count: 0 }, { le: INF, count: 0 }])).toBeNaN();
    expect(histogramQuantile(0.5, [{ le: 1, count: 3 }, { le: 2, count: 4 }])).toBeNaN(); // no +Inf
    expect(histogramQuantile(0.5, [{ le: INF, count: 4 }])).toBeNaN();
    expect(histogramQuantile(-0.1, buckets)).toBe(-INF);
    expect(histogramQuantile(1.1, buckets)).toBe(INF);
    expect(histogramQuantile(Number.NaN, buckets)).toBeNaN();
    expect(histogramQuantile(0.2, [{ le: -1, count: 5 }, { le: INF, count: 10 }])).toBe(-1);
  });
});

describe('histogramFromFamily', () => {
  const { families } = parsePrometheusText(HISTOGRAM);

  it('groups by labels, summing the series of each group', () => {
    const byVerb = histogramFromFamily(families, 'http_request_duration_seconds', undefined, ['verb']);
    expect(byVerb).toEqual([
      {
        labels: { verb: 'GET' },
        buckets: [{ le: 0.1, count: 15 }, { le: 0.5, count: 35 }, { le: 1, count: 45 }, { le: INF, count: 45 }],
        sum: 12.75,
        count: 45,
      },
      { labels: { verb: 'LIST' }, buckets: [{ le: 0.1, count: 1 }, { le: 0.5, count: 2 }, { le: 1, count: 3 }, { le: INF, count: 4 }], sum: 9, count: 4 },
    ]);
  });

  it('filters series and returns one group without groupBy', () => {
    const [pods, ...rest] = histogramFromFamily(families, 'http_request_duration_seconds', { resource: 'pods', verb: 'GET' });
    expect(rest).toHaveLength(0);
    expect(pods?.labels).toEqual({});
    expect(pods?.count).toBe(40);
    expect(histogramQuantile(0.5, pods?.buckets ?? [])).toBeCloseTo(0.3, 12);
    expect(histogramFromFamily(families, 'http_request_duration_seconds', { verb: 'DELETE' })).toEqual([]);
    expect(histogramFromFamily(families, 'absent_seconds', undefined, ['verb'])).toEqual([]);
  });

  it('takes the count from the +Inf bucket when _count is missing', () => {
    const f = parsePrometheusText('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 3\n').families;
    expect(histogramFromFamily(f, 'h')).toEqual([{ labels: {}, buckets: [{ le: 1, count: 2 }, { le: INF, count: 3 }], sum: 0, count: 3 }]);
  });
});

describe('fold (histograms summed while parsing)', () => {
  it('gives what histogramFromFamily gives, keeping none of the samples', () => {
    const fold = new Map([['http_request_duration_seconds', { groupBy: ['verb'] }]]);
    const folded = parsePrometheusText(HISTOGRAM, { fold });
    const plain = parsePrometheusText(HISTOGRAM);
    expect(folded.histograms.get('http_request_duration_seconds')?.groups()).toEqual(histogramFromFamily(plain.families, 'http_request_duration_seconds', undefined, ['verb']));
    expect(folded.families.get('http_request_duration_seconds')?.samples ?? []).toEqual([]);
    expect([...(folded.histograms.get('http_request_duration_seconds')?.seen ?? [])].sort()).toEqual(['http_request_duration_seconds_bucket', 'http_request_duration_seconds_count', 'http_request_duration_seconds_sum']);
    expect(folded.malformed).toBe(plain.malformed);
  });

  it('applies the filter, records filtered-out names as seen, and leaves other families as samples', () => {
    const text = '# TYPE h histogram\nh_bucket{x="a",le="1"} 2\nh_bucket{x="a",le="+Inf"} 3\nh_count{x="a"} 3\nh_bucket{x="b",le="+Inf"} 7\nother 4\n';
    const { families, histograms } = parsePrometheusText(text, { fold: new Map([['h', { filter: { x: 'a' } }]]) });
    expect(histograms.get('h')?.groups()).toEqual([{ labels: {}, buckets: [{ le: 1, count: 2 }, { le: INF, count: 3 }], sum: 0, count: 3 }]);
    expect(parsePrometheusText(text, { fold: new Map([['h', { filter: { x: 'c' } }]]) }).histograms.get('h')?.seen.has('h_bucket')).toBe(true);
    expect(families.get('other')?.samples).toHaveLength(1);
  });
});

describe('diffHistograms', () => {
  const a = { buckets: [{ le: 0.1, count: 10 }, { le: 1, count: 15 }, { le: INF, count: 16 }], sum: 4, count: 16 };
  const b = { buckets: [{ le: 0.1, count: 12 }, { le: 1, count: 25 }, { le: INF, count: 30 }], sum: 20, count: 30 };

  it('subtracts bucket by bucket', () => {
    expect(diffHistograms(a, b)).toEqual({ buckets: [{ le: 0.1, count: 2 }, { le: 1, count: 10 }, { le: INF, count: 14 }], sum: 16, count: 14 });
  });

  it('answers b for a counter reset or a series new in b', () => {
    const restarted = { buckets: [{ le: 0.1, count: 1 }, { le: 1, count: 2 }, { le: INF, count: 3 }], sum: 0.5, count: 3 };
    expect(diffHistograms(a, restarted)).toEqual(restarted);
    expect(diffHistograms(undefined, b)).toEqual(b);
  });

  it('aligns different bounds, reading a missing bound from the nearest lower one', () => {
    // `a` was cut after its first full bucket (0.1): above it, a holds all 5.
    const cut = { buckets: [{ le: 0.1, count: 5 }, { le: INF, count: 5 }], sum: 0.2, count: 5 };
    const d = diffHistograms(cut, b);
    expect(d.buckets).toEqual([{ le: 0.1, count: 7 }, { le: 1, count: 20 }, { le: INF, count: 25 }]);
    expect(d.count).toBe(25);
  });
});

describe('kube-apiserver v1.37.2 fixture', () => {
  const text = readFileSync(FIXTURE, 'utf8');

  it('parses without malformed lines, fast', () => {
    // This thread's CPU time, not wall time: other processes' turns on a shared machine do not count.
    const cpu0 = process.threadCpuUsage();
    const { families, malformed } = parsePrometheusText(text);
    const cpu = process.threadCpuUsage(cpu0);
    expect(malformed).toBe(0);
    expect(families.size).toBeGreaterThan(250);
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(1000);
    expect(families.get('apiserver_admission_step_admission_duration_seconds_summary')?.type).toBe('summary');
  });

  it('finds apiserver_request_duration_seconds buckets with verb and resource labels', () => {
    const { families } = parsePrometheusText(text);
    const f = families.get('apiserver_request_duration_seconds');
    expect(f?.type).toBe('histogram');
    const buckets = f?.samples.filter((s) => s.name === 'apiserver_request_duration_seconds_bucket') ?? [];
    expect(buckets.length).toBeGreaterThan(100);
    expect(buckets.every((s) => 'verb' in s.labels && 'resource' in s.labels && 'le' in s.labels)).toBe(true);
    const groups = histogramFromFamily(families, 'apiserver_request_duration_seconds', { resource: 'configmaps' }, ['verb']);
    const list = groups.find((g) => g.labels.verb === 'LIST');
    expect(list?.count).toBe(44);
    expect(list?.buckets).toHaveLength(24);
    // Buckets 0.2 → 7, 0.4 → 24, 0.6 → 44: p50 = 0.2 + 0.2·15/17, p99 = 0.4 + 0.2·19.56/20.
    expect(histogramQuantile(0.5, list?.buckets ?? [])).toBeCloseTo(0.2 + (0.2 * 15) / 17, 12);
    expect(histogramQuantile(0.99, list?.buckets ?? [])).toBeCloseTo(0.5956, 12);
  });
});
