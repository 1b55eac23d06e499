/**
 * Which part of the server a profile sample belongs to: the attribution table
 * for kube-apiserver and etcd profiles, and the rules that apply it.
 *
 * ## Frames
 * Each frame (a Go function name such as
 * `k8s.io/kube-openapi/pkg/builder3.(*openAPI).buildOperations`) is matched
 * against the source's `rules` in order; the first rule that matches names the
 * frame's component. A rule matches a package path (the package itself or any
 * package below it) or a regular expression over the whole function name (for
 * the few places where one package holds several components' code).
 *
 * ## Samples: flat and cumulative, each summing to 100 %
 * - **flat**: the component of the leaf-most frame that has one ("where the
 *   instructions ran", as pprof's flat column; generic runtime code such as
 *   `runtime.memmove` or `sync.(*Mutex).Lock` matches nothing and is skipped).
 * - **cumulative** (the owner; what the report shows): every sample is counted
 *   once, for the component that caused the work, so nested components are
 *   not double counted. Components come in four kinds, and the sample goes to
 *   1. the `runtime` component if any frame is the garbage collector or
 *      scheduler (GC assists under an allocation are GC cost, not the
 *      allocator's);
 *   2. else the **highest-ranked `area`** on the whole stack: areas are ranked
 *      from most to least specific (CEL runs inside admission and CRD
 *      validation, so CEL ranks above both; a CRD's watch cache is created by
 *      the apiextensions handler, so the watch cache ranks above apiextensions);
 *   3. else the **leaf-most `mechanism`** (encoding, network/TLS): serialization
 *      that no area asked for is, in practice, a response being written;
 *   4. else the **leaf-most `wrapper`**: the request pipeline (filters,
 *      flow control, REST handlers) wraps every request, so it only gets a
 *      sample when nothing more specific is on the stack (its own code);
 *   5. else `other`, which the report keeps visible.
 *   Heap profiles use the same rules over allocation stacks: memory counts for
 *   the component that allocated it (the OpenAPI document's JSON bytes are
 *   OpenAPI's, not encoding's).
 *
 * The tables are tested against real profiles from the local kube-apiserver
 * and etcd (test/fixtures/pprof/).
 */

export type ComponentKind = 'runtime' | 'area' | 'mechanism' | 'wrapper';

export interface Component {
  id: string;
  /** Human name for reports. */
  name: string;
  kind: ComponentKind;
}

export interface Rule {
  component: string;
  /** Go package paths: the package or any package below it. */
  packages?: readonly string[];
  /** Matched against the whole function name. */
  functions?: RegExp;
}

export interface ComponentTable {
  /** Ranked: for areas, earlier = more specific = wins. */
  components: readonly Component[];
  /** In match order: the first rule that matches a frame names its component. */
  rules: readonly Rule[];
}

export const OTHER = 'other';

/** The Go runtime's own work: garbage collection and scheduling (not allocation, which is the caller's). */
const RUNTIME_RULE: Rule = {
  component: 'runtime',
  functions:
    /^runtime\.(gcBgMarkWorker|gcAssistAlloc1?|gcDrain\w*|gcMark\w*|gcStart|gcSweep|gcenable|markroot\w*|scanobject|scanblock|scanstack|scanframeworker|greyobject|wbBufFlush1?|bgsweep|bgscavenge|sweepone|forEachP|stopTheWorld\w*|startTheWorld\w*|mcall|schedule|findRunnable|park_m|goschedImpl|gopreempt_m|sysmon|mstart1?|_GC|_System|_ExternalCode|_VDSO|morestack|newstack|copystack)$/,
};

const RUNTIME: Component = { id: 'runtime', name: 'runtime (GC, scheduler)', kind: 'runtime' };
const ENCODING: Component = { id: 'encoding', name: 'encoding & conversion', kind: 'mechanism' };
const NETWORK: Component = { id: 'network', name: 'network & TLS', kind: 'mechanism' };

/**
 * The HTTP server's dispatch frames sit at the root of every request: they are the
 * pipeline (a wrapper), not network work. Reading and writing stay network.
 */
const HTTP_DISPATCH = /^(net\/http|(vendor\/)?golang\.org\/x\/net\/http2)\.(\(\*conn\)\.serve|serverHandler\.ServeHTTP|HandlerFunc\.ServeHTTP|\(\*ServeMux\)\.ServeHTTP|\(\*serverConn\)\.runHandler|\(\*Server\)\.Serve|\(\*timeoutHandler\)\.ServeHTTP)/;

const NETWORK_RULE: Rule = {
  component: 'network',
  packages: ['net', 'crypto', 'internal/poll', 'syscall', 'bufio', 'golang.org/x/net', 'golang.org/x/crypto', 'vendor/golang.org/x/net', 'vendor/golang.org/x/crypto', 'internal/syscall'],
};

/**
 * kube-apiserver (with its aggregator and apiextensions-apiserver, as one binary).
 * Package paths are those of k8s.io/kubernetes v1.3x and its staging modules.
 */
export const KUBE_APISERVER_TABLE: ComponentTable = {
  components: [
    RUNTIME,
    { id: 'cel', name: 'CEL', kind: 'area' },
    { id: 'field-management', name: 'field management (SSA, managedFields)', kind: 'area' },
    { id: 'openapi', name: 'OpenAPI', kind: 'area' },
    { id: 'discovery', name: 'discovery', kind: 'area' },
    { id: 'admission', name: 'admission', kind: 'area' },
    { id: 'watch-cache', name: 'watch cache (storage cacher)', kind: 'area' },
    { id: 'etcd-client', name: 'etcd client & storage', kind: 'area' },
    { id: 'apiextensions', name: 'apiextensions (CRD handlers, schemas, controllers)', kind: 'area' },
    { id: 'auth', name: 'authentication & authorization', kind: 'area' },
    { id: 'informers', name: 'informers & loopback clients (client-go)', kind: 'area' },
    { id: 'metrics', name: 'metrics & tracing (/metrics, Prometheus, OpenTelemetry)', kind: 'area' },
    ENCODING,
    NETWORK,
    { id: 'flow-control', name: 'flow control (APF)', kind: 'wrapper' },
    { id: 'request-handling', name: 'request handling (filters, REST handlers, registry)', kind: 'wrapper' },
  ],
  rules: [
    RUNTIME_RULE,
    // CEL: the library, and the apiserver's CEL environments (CRD validation rules, admission policies).
    { component: 'cel', packages: ['github.com/google/cel-go', 'github.com/antlr4-go/antlr', 'k8s.io/apiserver/pkg/cel', 'k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel', 'k8s.io/apiserver/pkg/admission/plugin/cel'] },
    // A CRD's type converter (built from its OpenAPI schema by schemaconv) is field management's.
    { component: 'field-management', packages: ['sigs.k8s.io/structured-merge-diff', 'k8s.io/apimachinery/pkg/util/managedfields', 'k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager', 'k8s.io/kube-openapi/pkg/schemaconv'] },
    // kube-openapi's validation package validates custom objects against their CRD schema.
    { component: 'apiextensions', packages: ['k8s.io/kube-openapi/pkg/validation'] },
    {
      component: 'openapi',
      packages: [
        'k8s.io/kube-openapi',
        'github.com/go-openapi',
        'k8s.io/apiextensions-apiserver/pkg/controller/openapi',
        'k8s.io/kube-aggregator/pkg/controllers/openapi',
        'k8s.io/kube-aggregator/pkg/controllers/openapiv3',
        'k8s.io/apiserver/pkg/endpoints/openapi',
        'github.com/google/gnostic-models',
        'k8s.io/kubernetes/pkg/generated/openapi',
      ],
      functions: /^k8s\.io\/apiserver\/pkg\/server(\.|\/routes\.)\S*OpenAPI/,
    },
    { component: 'discovery', packages: ['k8s.io/apiserver/pkg/endpoints/discovery', 'k8s.io/kube-aggregator/pkg/apiserver/discovery'] },
    { component: 'discovery', functions: /^k8s\.io\/(apiextensions-apiserver\/pkg\/apiserver\.\(\*(DiscoveryController|versionDiscoveryHandler|groupDiscoveryHandler)\)|kube-aggregator\/pkg\/\S*[Dd]iscovery)/ },
    { component: 'admission', packages: ['k8s.io/apiserver/pkg/admission', 'k8s.io/kubernetes/plugin/pkg/admission', 'k8s.io/apiserver/pkg/quota', 'k8s.io/kubernetes/pkg/quota'] },
    // The delegator passes calls to the cache or to etcd: pipeline; what it calls decides.
    { component: 'request-handling', functions: /^k8s\.io\/apiserver\/pkg\/storage\/cacher\.\(\*CacheDelegator\)/ },
    // The etcd watch behind each watch cache (with the watch cache on, almost every etcd watch is one).
    { component: 'watch-cache', packages: ['k8s.io/apiserver/pkg/storage/cacher'], functions: /^k8s\.io\/apiserver\/pkg\/storage\/etcd3\.(\(\*watchChan\)|\(\*watcher\)|newWatcher)/ },
    { component: 'etcd-client', packages: ['k8s.io/apiserver/pkg/storage/etcd3', 'k8s.io/apiserver/pkg/storage/value', 'k8s.io/apiserver/pkg/storage/storagebackend', 'go.etcd.io/etcd/client', 'go.etcd.io/etcd/api', 'google.golang.org/grpc'] },
    // The CRD handler's ServeHTTP wraps every custom-resource request: pipeline, not CRD work.
    { component: 'request-handling', functions: /^k8s\.io\/apiextensions-apiserver\/pkg\/apiserver\.\(\*crdHandler\)\.(ServeHTTP|serveResource|serveStatus|serveScale)/ },
    { component: 'apiextensions', packages: ['k8s.io/apiextensions-apiserver'] },
    { component: 'auth', packages: ['k8s.io/apiserver/pkg/authentication', 'k8s.io/apiserver/pkg/authorization', 'k8s.io/kubernetes/plugin/pkg/auth', 'k8s.io/kubernetes/pkg/registry/rbac', 'k8s.io/component-helpers/auth'] },
    { component: 'informers', packages: ['k8s.io/client-go'] },
    // Serving /metrics (asa-bench scrapes it every 5 s) and recording request metrics and traces.
    // (The tracing middleware and the route instrumentation wrap the handler: pipeline, not metrics.)
    { component: 'request-handling', functions: /^(go\.opentelemetry\.io\/contrib\/instrumentation\/net\/http\/otelhttp\.(\(\*middleware\)|NewMiddleware|NewHandler|\(\*Handler\))|k8s\.io\/apiserver\/pkg\/endpoints\/metrics\.Instrument)/ },
    { component: 'metrics', packages: ['github.com/prometheus', 'k8s.io/component-base/metrics', 'k8s.io/component-base/tracing', 'go.opentelemetry.io', 'k8s.io/apiserver/pkg/endpoints/metrics'] },
    // Flow control wraps the handler chain (Handle → Finish → execFn), hence a wrapper.
    { component: 'flow-control', packages: ['k8s.io/apiserver/pkg/util/flowcontrol'], functions: /^k8s\.io\/apiserver\/pkg\/server\/filters\.(WithPriorityAndFairness|\(\*priorityAndFairnessHandler\))/ },
    {
      component: 'encoding',
      packages: [
        'encoding',
        'sigs.k8s.io/json',
        'sigs.k8s.io/yaml',
        'go.yaml.in/yaml',
        'gopkg.in/yaml.v2',
        'gopkg.in/yaml.v3',
        'github.com/json-iterator',
        'github.com/modern-go',
        'github.com/go-json-experiment/json',
        'github.com/gogo/protobuf',
        'github.com/golang/protobuf',
        'google.golang.org/protobuf',
        'compress',
        'k8s.io/apimachinery/pkg/runtime',
        'k8s.io/apimachinery/pkg/conversion',
        'k8s.io/apimachinery/pkg/apis/meta/v1/unstructured',
        'k8s.io/apimachinery/pkg/util/json',
        'k8s.io/api',
      ],
    },
    { component: 'request-handling', functions: HTTP_DISPATCH },
    NETWORK_RULE,
    {
      component: 'request-handling',
      packages: ['k8s.io/apiserver/pkg/endpoints', 'k8s.io/apiserver/pkg/registry', 'k8s.io/apiserver/pkg/server', 'k8s.io/apiserver/pkg/audit', 'k8s.io/kubernetes/pkg/registry', 'k8s.io/kube-aggregator', 'github.com/emicklei/go-restful'],
    },
  ],
};

/** etcd 3.6 (go.etcd.io/etcd/server/v3). */
export const ETCD_TABLE: ComponentTable = {
  components: [
    RUNTIME,
    { id: 'watch', name: 'watch (watchable store, watch streams)', kind: 'area' },
    { id: 'raft', name: 'raft & peer transport', kind: 'area' },
    { id: 'wal', name: 'WAL (fsync)', kind: 'area' },
    { id: 'bbolt', name: 'bbolt backend', kind: 'area' },
    { id: 'mvcc', name: 'MVCC (key index, revisions)', kind: 'area' },
    { id: 'apply', name: 'etcdserver (apply, txn, lease, auth)', kind: 'area' },
    ENCODING,
    NETWORK,
    { id: 'grpc', name: 'gRPC serving', kind: 'wrapper' },
  ],
  rules: [
    RUNTIME_RULE,
    { component: 'watch', functions: /^go\.etcd\.io\/etcd\/server\/v3\/(storage\/mvcc\.(\(\*watchableStore\)|\(\*watchStream\)|\(\*watcherGroup\)|\(\*watcherBatch\)|newWatcherBatch|kvsToEvents)|etcdserver\/api\/v3rpc\.(\(\*watchServer\)|\(\*serverWatchStream\)))/ },
    { component: 'raft', packages: ['go.etcd.io/raft', 'go.etcd.io/etcd/server/v3/etcdserver/api/rafthttp', 'go.etcd.io/etcd/server/v3/etcdserver/api/snap'], functions: /^go\.etcd\.io\/etcd\/server\/v3\/etcdserver\.\(\*raftNode\)/ },
    { component: 'wal', packages: ['go.etcd.io/etcd/server/v3/storage/wal', 'go.etcd.io/etcd/server/v3/wal', 'go.etcd.io/etcd/client/pkg/v3/fileutil'] },
    { component: 'bbolt', packages: ['go.etcd.io/bbolt', 'go.etcd.io/etcd/server/v3/storage/backend', 'go.etcd.io/etcd/server/v3/mvcc/backend'] },
    { component: 'mvcc', packages: ['go.etcd.io/etcd/server/v3/storage/mvcc', 'go.etcd.io/etcd/server/v3/mvcc', 'github.com/google/btree'] },
    { component: 'apply', packages: ['go.etcd.io/etcd/server/v3/etcdserver/apply', 'go.etcd.io/etcd/server/v3/etcdserver/txn', 'go.etcd.io/etcd/server/v3/lease', 'go.etcd.io/etcd/server/v3/auth'], functions: /^go\.etcd\.io\/etcd\/server\/v3\/etcdserver\.\(\*EtcdServer\)\.(apply|Range|Put|Txn|DeleteRange|Compact|LeaseGrant)/ },
    { component: 'encoding', packages: ['encoding', 'github.com/gogo/protobuf', 'github.com/golang/protobuf', 'google.golang.org/protobuf', 'go.etcd.io/etcd/api', 'compress'] },
    { component: 'grpc', functions: HTTP_DISPATCH },
    NETWORK_RULE,
    { component: 'grpc', packages: ['google.golang.org/grpc', 'go.etcd.io/etcd/server/v3/etcdserver/api/v3rpc', 'github.com/grpc-ecosystem', 'go.etcd.io/etcd/server/v3/embed'] },
  ],
};

/** Any other Go server (e.g. kine until it has its own table): runtime, encoding and network, the rest `other`. */
export const GENERIC_TABLE: ComponentTable = {
  components: [RUNTIME, ENCODING, NETWORK],
  rules: [RUNTIME_RULE, { component: 'encoding', packages: ['encoding', 'github.com/gogo/protobuf', 'github.com/golang/protobuf', 'google.golang.org/protobuf', 'compress'] }, NETWORK_RULE],
};

export type TableName = 'kube-apiserver' | 'etcd' | 'generic';

export const TABLES: Readonly<Record<TableName, ComponentTable>> = { 'kube-apiserver': KUBE_APISERVER_TABLE, etcd: ETCD_TABLE, generic: GENERIC_TABLE };

/** The package path of a Go function name: `a/b/c.(*T).m` → `a/b/c`; `runtime.mallocgc` → `runtime`. */
export function packageOf(functionName: string): string {
  // Type parameters (`F[go.shape.*uint8]`, `(*T[...])`) may contain dots and slashes: drop them first.
  let name = functionName;
  for (let prev = ''; prev !== name; ) {
    prev = name;
    name = name.replace(/\[[^[\]]*\]/g, '');
  }
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  return dot < 0 ? name : name.slice(0, dot);
}

function packageMatches(pkg: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => pkg === p || pkg.startsWith(`${p}/`));
}

/** Classifies frames with a cache: profiles repeat the same few thousand functions. */
export class Classifier {
  private readonly cache = new Map<string, string | undefined>();
  private readonly rank = new Map<string, number>();
  private readonly kinds = new Map<string, ComponentKind>();

  constructor(readonly table: ComponentTable) {
    table.components.forEach((c, i) => {
      this.rank.set(c.id, i);
      this.kinds.set(c.id, c.kind);
    });
  }

  /** The component of one frame, or undefined (generic code: runtime helpers, sync, reflect, unknown packages). */
  frame(functionName: string): string | undefined {
    if (this.cache.has(functionName)) return this.cache.get(functionName);
    const pkg = packageOf(functionName);
    const rule = this.table.rules.find((r) => (r.functions?.test(functionName) ?? false) || (r.packages !== undefined && packageMatches(pkg, r.packages)));
    this.cache.set(functionName, rule?.component);
    return rule?.component;
  }

  /** flat: the leaf-most frame with a component (see the module comment). */
  flat(stack: readonly string[]): string {
    for (const f of stack) {
      const c = this.frame(f);
      if (c !== undefined) return c;
    }
    return OTHER;
  }

  /** cumulative: the one owner of a sample (see the module comment for the rule). */
  owner(stack: readonly string[]): { component: string; frame?: string } {
    let area: { component: string; frame: string; rank: number } | undefined;
    let mechanism: { component: string; frame: string } | undefined;
    let wrapper: { component: string; frame: string } | undefined;
    for (const f of stack) {
      const c = this.frame(f);
      if (c === undefined) continue;
      const kind = this.kinds.get(c)!;
      if (kind === 'runtime') return { component: c, frame: f };
      if (kind === 'area') {
        const rank = this.rank.get(c)!;
        // Leaf-most frame of the winning area: it names the function behind the sample.
        if (!area || rank < area.rank) area = { component: c, frame: f, rank };
      } else if (kind === 'mechanism') mechanism ??= { component: c, frame: f };
      else wrapper ??= { component: c, frame: f };
    }
    const winner = area ?? mechanism ?? wrapper;
    return winner ? { component: winner.component, frame: winner.frame } : { component: OTHER };
  }

  nameOf(id: string): string {
    return this.table.components.find((c) => c.id === id)?.name ?? id;
  }
}
