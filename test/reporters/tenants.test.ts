/**
 * The tenants and storage views of a report: each tenant's p99 side by side,
 * the spread, the shared revision counter, the storage line; all from the
 * recorded result alone.
 */
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../src/reporters/markdown.js';
import { storageFactValue } from '../../src/reporters/view.js';
import { tenantFindings, tenantRows } from '../../src/reporters/tenants.js';
import type { PhaseResult, TenantResult } from '../../src/types/results.js';
import { makeOp, makeReport } from './fixtures.js';

function phase(name: string, primary: string, p99: number, ok: number): PhaseResult {
  return {
    step: 0,
    level: 20,
    crds: 20,
    load: { model: 'closed', concurrency: 4 },
    phase: name,
    kind: primary.split('.')[0]!,
    limit: 'iterations',
    primary,
    startedAt: '2026-11-29T00:00:00.000Z',
    durationMs: 1000,
    ops: [{ ...makeOp(primary, p99, 10, ok), ok }],
    harness: { cpuCores: 0.2, eventLoopDelayP99Ms: 1, eventLoopDelayMaxMs: 2, rssMaxBytes: 1e8, saturated: false },
    server: { cpuCores: 1, rssBytes: 3e8, requests429: 0, apfRejected: 0, apfWaitP99Ms: 0, etcdP99Ms: p99 / 10, requestP99Ms: p99, objects: 0 },
  };
}

function tenant(index: number, createP99: number, listP99: number, revisions: [number, number]): TenantResult {
  return {
    index,
    prefix: `/tenant-${index}`,
    runId: `r${index}`,
    status: 'complete',
    phases: [phase('create', 'create.objects', createP99, 100), phase('list', 'list.quorum', listP99, 40)],
    serverSeries: [],
    revisions: { start: revisions[0], end: revisions[1] },
  };
}

const TENANTS = [tenant(1, 100, 20, [10, 410]), tenant(2, 300, 25, [12, 412]), tenant(3, 150, 20, [15, 415])];

describe('tenant rows', () => {
  it('put each tenant\'s p99 of a phase\'s primary operation side by side, with the spread', () => {
    const rows = tenantRows(TENANTS);
    expect(rows.map((r) => [r.phase, r.op, r.p99])).toEqual([
      ['create', 'create.objects', [100, 300, 150]],
      ['list', 'list.quorum', [20, 25, 20]],
    ]);
    expect(rows[0]!.spread).toBe(3);
    expect(rows[1]!.spread).toBeCloseTo(1.25);
  });

  it('leave the spread out when a tenant has no figure', () => {
    const broken = [TENANTS[0]!, { ...TENANTS[1]!, phases: [] }];
    expect(tenantRows(broken)[0]).toMatchObject({ p99: [100, undefined] });
    expect(tenantRows(broken)[0]!.spread).toBeUndefined();
  });
});

describe('tenant findings', () => {
  it('say the revision counter is shared, with each tenant\'s own writes, and the largest spread', () => {
    const report = makeReport();
    const findings = tenantFindings({ ...report.summary, tenants: TENANTS }, { ...report.run, storage: { kind: 'etcd', samples: 3, rssStartBytes: 5e7, rssMaxBytes: 8e7, rssEndBytes: 7e7, cpuSeconds: 2 } });
    expect(findings[0]).toContain('3 API servers ran the scenario at the same time on one etcd');
    expect(findings[1]).toContain('advanced by 400 (tenant 1), 400 (tenant 2), 400 (tenant 3)');
    expect(findings[1]).toContain('wrote 100, 100, 100 objects (300 in all)');
    expect(findings[2]).toContain('create (create.objects, step 0)');
    expect(findings[2]).toContain('×3.00');
  });

  it('are none for a run without tenants', () => {
    const report = makeReport();
    expect(tenantFindings(report.summary, report.run)).toEqual([]);
  });
});

describe('the Markdown report', () => {
  it('has a Tenants section and a Storage line', () => {
    const report = makeReport();
    const md = renderMarkdown({
      ...report,
      run: { ...report.run, storage: { kind: 'kine', samples: 4, rssStartBytes: 50 * 2 ** 20, rssMaxBytes: 60 * 2 ** 20, rssEndBytes: 55 * 2 ** 20, cpuSeconds: 3.25 } },
      summary: { ...report.summary, tenants: TENANTS },
    });
    expect(md).toContain('## Tenants');
    expect(md).toContain('| 0 | create | create.objects | 100.0 | 300.0 | 150.0 | ×3.00 |');
    expect(md).toContain('**Storage:** kine: memory 50.0 MiB at start, peak 60.0 MiB, 55.0 MiB at end; 3.3 CPU-seconds over the run (4 samples)');
  });

  it('has no Tenants section without tenants', () => {
    expect(renderMarkdown(makeReport())).not.toContain('## Tenants');
  });
});

describe('storage line', () => {
  it('gives etcd\'s database size', () => {
    expect(storageFactValue({ kind: 'etcd', samples: 2, rssStartBytes: 2 ** 20, rssMaxBytes: 2 ** 21, rssEndBytes: 2 ** 21, cpuSeconds: 0.5, dbSizeBytes: 3 * 2 ** 20 })).toContain('database 3.0 MiB');
  });
});

describe('the HTML report', () => {
  it('has a Tenants section with each tenant\'s p99, escaped', async () => {
    const { renderHtml } = await import('../../src/reporters/html.js');
    const report = makeReport();
    const html = renderHtml({ ...report, summary: { ...report.summary, tenants: TENANTS } });
    expect(html).toContain('<h2>Tenants</h2>');
    expect(html).toContain('<th scope="col">tenant 3 p99 ms</th>');
    expect(html).toContain('<td class="num">300.0</td>');
    expect(renderHtml(report)).not.toContain('<h2>Tenants</h2>');
  });
});

describe('each tenant\'s API server', () => {
  const sample = (t: number, mib: number, cpu: number, r429: number) => ({ t, rssBytes: mib * 2 ** 20, cpuCores: cpu, crds: 20, requests429: r429 });
  // Tenant 2 peaks highest: a header built from tenant 1's series alone would say 300 MiB.
  const withSeries = TENANTS.map((t, i) => ({ ...t, serverSeries: [sample(0, 250, 0.5, 0), sample(5, [300, 700, 400][i]!, [1, 1.5, 0.75][i]!, i)] }));
  const input = () => {
    const report = makeReport();
    return {
      ...report,
      run: { ...report.run, server: { given: 'v1.37.2,tenants=3', spec: 'v1.37.2,tenants=3', label: 'v1.37.2', kind: 'version' as const, version: 'v1.37.2', kubeApiserver: { path: 'x', sha256: 'y'.repeat(64) }, controllers: 'none' as const, args: [], buildKey: 'k', tenants: 3 } },
      serverSeries: withSeries[0]!.serverSeries,
      summary: { ...report.summary, tenants: withSeries },
    };
  };

  it('gets its own line in the Markdown header, named by tenant', () => {
    const md = renderMarkdown(input());
    expect(md).toContain('- **kube-apiserver (tenant 1 of 3):** peak memory 300.0 MiB');
    expect(md).toContain('- **kube-apiserver (tenant 2 of 3):** peak memory 700.0 MiB (at 20 CRDs), peak CPU 1.50 cores, 1 × 429 during the run (2 samples)');
    expect(md).toContain('- **kube-apiserver (tenant 3 of 3):** peak memory 400.0 MiB');
    expect(md).not.toContain('- **API server:**');
  });

  it('gets its own line in the HTML memory chart', async () => {
    const { renderHtml } = await import('../../src/reporters/html.js');
    const html = renderHtml(input());
    for (const i of [1, 2, 3]) expect(html).toContain(`kube-apiserver (tenant ${i} of 3) RSS`);
  });
});

