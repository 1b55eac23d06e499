/**
 * The attribution rules (src/profiles/components.ts) on hand-written stacks:
 * one case per rule, so a table change that breaks a rule names it. The tables
 * themselves are checked against real profiles in components.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Classifier, ETCD_TABLE, KUBE_APISERVER_TABLE, packageOf } from '../../src/profiles/components.js';

const api = new Classifier(KUBE_APISERVER_TABLE);

// Frames of a custom-resource request's pipeline (leaf-most last here, reversed below).
const PIPELINE = [
  'net/http.(*conn).serve',
  'k8s.io/apiserver/pkg/server/filters.(*timeoutHandler).ServeHTTP.func1',
  'k8s.io/apiserver/pkg/server/filters.(*priorityAndFairnessHandler).Handle',
  'k8s.io/apiserver/pkg/util/flowcontrol.(*configController).Handle',
  'k8s.io/apiserver/pkg/util/flowcontrol/fairqueuing/queueset.(*request).Finish',
  'k8s.io/apiserver/pkg/endpoints/filters.WithAuthorization.func1',
  'k8s.io/apiextensions-apiserver/pkg/apiserver.(*crdHandler).ServeHTTP',
  'k8s.io/apiextensions-apiserver/pkg/apiserver.(*crdHandler).serveResource.ListResource.func3',
  'k8s.io/apiserver/pkg/endpoints/handlers.ListResource.func1',
];
/** Root-first frames → a leaf-first stack as profiles hold it. */
const stack = (...rootFirst: string[]) => [...rootFirst].reverse();

describe('packageOf', () => {
  it.each([
    ['k8s.io/kube-openapi/pkg/builder3.(*openAPI).buildOperations', 'k8s.io/kube-openapi/pkg/builder3'],
    ['runtime.mallocgc', 'runtime'],
    ['encoding/json.(*decodeState).object', 'encoding/json'],
    ['k8s.io/apiserver/pkg/storage/cacher.(*Cacher).startCaching.func1', 'k8s.io/apiserver/pkg/storage/cacher'],
    ['k8s.io/utils/lru.(*Cache[go.shape.string,go.shape.*k8s.io/api/core/v1.Pod]).Get', 'k8s.io/utils/lru'],
    ['slices.SortFunc[go.shape.[]string,go.shape.string]', 'slices'],
  ])('%s → %s', (fn, pkg) => expect(packageOf(fn)).toBe(pkg));
});

describe('kube-apiserver: cumulative (owner) rule', () => {
  it('a response being encoded under the request pipeline is encoding, not flow control or the CRD handler', () => {
    const s = stack(...PIPELINE, 'k8s.io/apiserver/pkg/endpoints/handlers/responsewriters.WriteObjectNegotiated', 'encoding/json.(*encodeState).marshal', 'runtime.memmove');
    expect(api.owner(s).component).toBe('encoding');
    expect(api.flat(s)).toBe('encoding');
  });

  it('TLS under encoding goes to the leaf-most mechanism: network', () => {
    const s = stack(...PIPELINE, 'encoding/json.(*Encoder).Encode', 'crypto/tls.(*Conn).Write', 'crypto/internal/fips140/aes/gcm.seal');
    expect(api.owner(s).component).toBe('network');
  });

  it('JSON written for the OpenAPI document belongs to OpenAPI (an area beats a mechanism)', () => {
    const s = stack('k8s.io/kube-openapi/pkg/cached.(*result).Get', 'k8s.io/kube-openapi/pkg/handler3.(*OpenAPIService).getSingleGroupBytes', 'encoding/json.Marshal', 'runtime.mallocgc');
    expect(api.owner(s)).toEqual({ component: 'openapi', frame: 'k8s.io/kube-openapi/pkg/handler3.(*OpenAPIService).getSingleGroupBytes' });
    expect(api.flat(s)).toBe('encoding');
  });

  it('a GC assist under any code is runtime', () => {
    const s = stack('k8s.io/kube-openapi/pkg/builder3.BuildOpenAPISpec', 'runtime.mallocgc', 'runtime.gcAssistAlloc', 'runtime.scanobject');
    expect(api.owner(s).component).toBe('runtime');
  });

  it('CEL inside CRD validation is CEL (ranked above apiextensions)', () => {
    const s = stack(...PIPELINE, 'k8s.io/apiextensions-apiserver/pkg/registry/customresource.customResourceStrategy.Validate', 'k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel.(*Validator).Validate', 'github.com/google/cel-go/interpreter.(*evalAnd).Eval');
    expect(api.owner(s).component).toBe('cel');
  });

  it('the watch cache created for a new CRD is the watch cache (ranked above apiextensions)', () => {
    const s = stack('k8s.io/apiextensions-apiserver/pkg/apiserver.(*crdHandler).getOrCreateServingInfoFor', 'k8s.io/apiserver/pkg/registry/generic/registry.(*Store).CompleteWithOptions', 'k8s.io/apiserver/pkg/storage/cacher.NewCacherFromConfig', 'k8s.io/apiserver/pkg/storage/cacher.newWatchCache');
    expect(api.owner(s).component).toBe('watch-cache');
  });

  it('the CRD handler building serving info is apiextensions; serving a request through it is not', () => {
    expect(api.owner(stack('k8s.io/apiextensions-apiserver/pkg/apiserver.(*crdHandler).getOrCreateServingInfoFor', 'reflect.Value.Call')).component).toBe('apiextensions');
    expect(api.owner(stack(...PIPELINE, 'sync.(*Mutex).Lock')).component).toBe('request-handling');
  });

  it('a quorum list decoding etcd data is the etcd client', () => {
    const s = stack(...PIPELINE, 'k8s.io/apiserver/pkg/registry/generic/registry.(*Store).List', 'k8s.io/apiserver/pkg/storage/etcd3.(*store).GetList', 'k8s.io/apimachinery/pkg/runtime.Decode', 'encoding/json.Unmarshal');
    expect(api.owner(s).component).toBe('etcd-client');
  });

  it('the etcd watch feeding a watch cache is the watch cache', () => {
    const s = stack('k8s.io/apiserver/pkg/storage/etcd3.(*watchChan).processEvent', 'k8s.io/apiserver/pkg/storage/etcd3.(*watchChan).transform', 'encoding/json.Unmarshal');
    expect(api.owner(s).component).toBe('watch-cache');
  });

  it("flow control's own work is flow control when nothing more specific is on the stack", () => {
    const s = stack('k8s.io/apiserver/pkg/util/flowcontrol.(*configController).Handle', 'k8s.io/apiserver/pkg/util/flowcontrol/fairqueuing/queueset.(*queueSet).StartRequest', 'sync.(*Mutex).Lock');
    expect(api.owner(s).component).toBe('flow-control');
  });

  it('unmapped code is other, and keeps its leaf function', () => {
    expect(api.owner(['sync.(*Mutex).Lock', 'k8s.io/kubernetes/pkg/controlplane/controller/foo.run'])).toEqual({ component: 'other' });
    expect(api.flat(['sync.(*Mutex).Lock'])).toBe('other');
  });

  it('every rule names a component of its table', () => {
    for (const t of [KUBE_APISERVER_TABLE, ETCD_TABLE]) {
      const ids = new Set(t.components.map((c) => c.id));
      for (const r of t.rules) expect(ids.has(r.component), r.component).toBe(true);
    }
  });
});

describe('etcd', () => {
  const etcd = new Classifier(ETCD_TABLE);
  it('a range read under gRPC is MVCC; a bbolt page read under it is bbolt', () => {
    const rpc = ['google.golang.org/grpc.(*Server).handleStream', 'go.etcd.io/etcd/server/v3/etcdserver/api/v3rpc.(*kvServer).Range', 'go.etcd.io/etcd/server/v3/etcdserver.(*EtcdServer).Range'];
    expect(etcd.owner(stack(...rpc, 'go.etcd.io/etcd/server/v3/storage/mvcc.(*treeIndex).Range')).component).toBe('mvcc');
    expect(etcd.owner(stack(...rpc, 'go.etcd.io/etcd/server/v3/storage/mvcc.(*storeTxnCommon).rangeKeys', 'go.etcd.io/bbolt.(*Cursor).seek')).component).toBe('bbolt');
  });
  it('watch event delivery is watch', () => {
    expect(etcd.owner(stack('go.etcd.io/etcd/server/v3/storage/mvcc.(*watchableStore).syncWatchersLoop', 'go.etcd.io/etcd/server/v3/storage/mvcc.(*watchableStore).syncWatchers', 'go.etcd.io/bbolt.(*Cursor).Next')).component).toBe('watch');
  });
});
