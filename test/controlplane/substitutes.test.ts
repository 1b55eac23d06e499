/**
 * The building blocks of the substituted components that need no server:
 * the CRD-only build's module and go.mod, the throwaway CA for the CRD-only
 * server's client certificates, and the storage /metrics reading.
 */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createClientCertAuthority } from '../../src/controlplane/certs.js';
import { apiextensionsModuleVersion, crdOnlyGoMod } from '../../src/controlplane/crd-only.js';
import { KINE_SQLITE_PARAMS } from '../../src/controlplane/kine.js';
import { storageSnapshotFromMetrics } from '../../src/metrics/storage.js';
import { UsageError } from '../../src/types/errors.js';

describe('the CRD-only build', () => {
  it('takes k8s.io/apiextensions-apiserver at the release\'s v0.<minor>.<patch>', () => {
    expect(apiextensionsModuleVersion('v1.37.2')).toBe('v0.37.2');
    expect(apiextensionsModuleVersion('v1.36.10')).toBe('v0.36.10');
    expect(() => apiextensionsModuleVersion('1.37')).toThrow(UsageError);
  });

  it('writes a wrapper go.mod with the upstream go directive and no replace lines', () => {
    const mod = crdOnlyGoMod('v1.37.2', 'module k8s.io/apiextensions-apiserver\n\ngo 1.26.0\n\nrequire k8s.io/api v0.37.2\n');
    expect(mod).toContain('module asa-bench.local/apiextensions-apiserver');
    expect(mod).toContain('go 1.26.0');
    expect(mod).toContain('require k8s.io/apiextensions-apiserver v0.37.2');
    expect(mod).not.toContain('replace');
  });
});

describe('the kine SQLite parameters', () => {
  it('are a complete set (a partial string replaces kine\'s defaults and lost writes)', () => {
    const params = new URLSearchParams(KINE_SQLITE_PARAMS);
    expect(params.get('_journal_mode')).toBe('WAL');
    expect(params.get('_busy_timeout')).toBe('30000');
    expect(params.get('_synchronous')).toBe('NORMAL');
    expect(params.get('_txlock')).toBe('immediate');
  });
});

describe('the client-certificate authority', () => {
  it('signs a loopback serving certificate and a system:masters client certificate', () => {
    const authority = createClientCertAuthority('asa-bench-admin');
    const ca = new X509Certificate(authority.ca);
    const serving = new X509Certificate(authority.serving.cert);
    const admin = new X509Certificate(authority.admin.cert);
    expect(ca.ca).toBe(true);
    expect(serving.ca).toBe(false);
    for (const leaf of [serving, admin]) {
      expect(leaf.checkIssued(ca)).toBe(true);
      expect(leaf.verify(ca.publicKey)).toBe(true);
    }
    expect(serving.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(serving.checkHost('localhost')).toBe('localhost');
    expect(admin.subject).toContain('O=system:masters');
    expect(admin.subject).toContain('CN=asa-bench-admin');
    expect(admin.keyUsage).toContain('1.3.6.1.5.5.7.3.2');
    expect(authority.admin.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('makes a new CA every time', () => {
    const [a, b] = [createClientCertAuthority('x'), createClientCertAuthority('x')];
    expect(new X509Certificate(b.admin.cert).checkIssued(new X509Certificate(a.ca))).toBe(false);
  });
});

describe('storage metrics', () => {
  it('reads memory, CPU and etcd\'s database size', () => {
    const text = [
      '# TYPE process_resident_memory_bytes gauge',
      'process_resident_memory_bytes 5.24288e+07',
      '# TYPE process_cpu_seconds_total counter',
      'process_cpu_seconds_total 12.5',
      '# TYPE etcd_mvcc_db_total_size_in_bytes gauge',
      'etcd_mvcc_db_total_size_in_bytes 2.097152e+06',
    ].join('\n');
    expect(storageSnapshotFromMetrics(text)).toEqual({ rssBytes: 52428800, cpuSeconds: 12.5, dbSizeBytes: 2097152 });
  });

  it('has no database size for kine', () => {
    const snap = storageSnapshotFromMetrics('process_resident_memory_bytes 100\nprocess_cpu_seconds_total 1\nkine_sql_total{error_code="",type="get"} 4\n');
    expect(snap).toEqual({ rssBytes: 100, cpuSeconds: 1 });
  });
});
