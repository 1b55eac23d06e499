// Command reference is the client-go side of asa-bench benchmark #2 (issue 5):
// a small closed-loop load client built on k8s.io/client-go, the client almost
// every other Kubernetes tool (kubectl, controllers, kube-burner,
// clusterloader2) sends its requests with. Benchmark tooling only.
//
// It drives one operation at a fixed concurrency for a fixed time and prints
// one JSON line (after BENCH_MARK start/end lines around the measured window): requests, errors, rusage CPU (user+sys of this whole process,
// RUSAGE_SELF: all goroutines, GC and the runtime) over the measured window,
// throughput, CPU µs per request and latency percentiles.
//
// Two modes:
//
//	decoded  what client-go users pay: GET/LIST through the dynamic client
//	         (responses decoded into unstructured.Unstructured[List], as
//	         kube-burner and clusterloader2 do for custom resources), discovery
//	         as discovery.DiscoveryClient downloads /apis (json.Unmarshal into
//	         apidiscovery/v2 APIGroupDiscoveryList + SplitGroupsAndResources).
//	raw      the cheapest client-go can be: rest.RESTClient GET with DoRaw
//	         (the whole body read into a []byte, nothing decoded), the same
//	         work the asa-bench engine does per request.
//
// Usage:
//
//	reference --kubeconfig K --context C --op get|list-quorum|list-cache|discovery \
//	  --group G --version V --resource R --namespace NS --name N \
//	  --mode decoded|raw --concurrency 16 --duration 10s --warmup 2s --http2|--http1
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

// discoveryAccept is exactly what client-go's DiscoveryClient sends for /apis
// (selectDiscoveryAcceptHeader: aggregated v2 first, then the v1 fallback).
const discoveryAccept = discovery.AcceptV2 + "," + discovery.AcceptV1

type result struct {
	Client       string         `json:"client"`
	Op           string         `json:"op"`
	Mode         string         `json:"mode"`
	Protocol     string         `json:"protocol"`
	Path         string         `json:"path"`
	Accept       string         `json:"accept"`
	Concurrency  int            `json:"concurrency"`
	Requests     int64          `json:"requests"`
	Errors       int64          `json:"errors"`
	ErrorSample  string         `json:"errorSample,omitempty"`
	Bytes        int64          `json:"bytes"` // response body bytes read (raw mode and discovery; 0 for dynamic-client decodes)
	DurationS    float64        `json:"durationS"`
	CPUUserS     float64        `json:"cpuUserS"`
	CPUSysS      float64        `json:"cpuSysS"`
	CPUS         float64        `json:"cpuS"`
	RPS          float64        `json:"rps"`
	CPUUsPerReq  float64        `json:"cpuUsPerReq"`
	P50Ms        float64        `json:"p50Ms"`
	P99Ms        float64        `json:"p99Ms"`
	MaxMs        float64        `json:"maxMs"`
	Protocols    map[string]int `json:"protocols"`
	GoMaxProcs   int            `json:"gomaxprocs"`
	ClientGo     string         `json:"clientGo"`
	Compression  bool           `json:"compression"`
	WarmupS      float64        `json:"warmupS"`
	WarmupErrors int64          `json:"warmupErrors"`
}

func main() {
	var (
		kubeconfig  = flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
		kubeContext = flag.String("context", "", "kubeconfig context (default: current-context)")
		op          = flag.String("op", "get", "get | list-quorum | list-cache | discovery")
		mode        = flag.String("mode", "decoded", "decoded (dynamic client / discovery decode) | raw (RESTClient DoRaw)")
		group       = flag.String("group", "", "API group of the custom resource")
		version     = flag.String("version", "v1", "API version of the custom resource")
		resource    = flag.String("resource", "", "plural resource name")
		namespace   = flag.String("namespace", "default", "namespace of the objects")
		name        = flag.String("name", "", "object name (get)")
		concurrency = flag.Int("concurrency", 16, "closed-loop workers (requests in flight)")
		duration    = flag.Duration("duration", 10*time.Second, "measured time")
		warmup      = flag.Duration("warmup", 2*time.Second, "unmeasured warm-up before the measured window (connections, TLS, caches)")
		http2       = flag.Bool("http2", true, "negotiate HTTP/2 (client-go's default over TLS)")
		http1       = flag.Bool("http1", false, "force HTTP/1.1 (TLSClientConfig.NextProtos = [http/1.1])")
		qps         = flag.Float64("qps", -1, "client-go QPS; negative disables its client-side rate limiter")
		burst       = flag.Int("burst", 1<<20, "client-go burst (only used when qps > 0)")
		compression = flag.Bool("compression", false, "let Go's transport ask for gzip (client-go's default); off by default so both clients receive the same bytes")
		cpuprofile  = flag.String("cpuprofile", "", "write a pprof CPU profile of the measured window to this file (go tool pprof -top BIN FILE)")
	)
	flag.Parse()
	if *http1 {
		*http2 = false
	}
	if err := run(*kubeconfig, *kubeContext, *op, *mode, schema.GroupVersionResource{Group: *group, Version: *version, Resource: *resource}, *namespace, *name, *concurrency, *duration, *warmup, *http2, float32(*qps), *burst, *compression, *cpuprofile); err != nil {
		fmt.Fprintf(os.Stderr, "reference: %v\n", err)
		os.Exit(1)
	}
}

// protoCounter records which protocol the responses came over (a check that
// --http1/--http2 did what it says); one atomic add per response.
type protoCounter struct {
	next http.RoundTripper
	h1   atomic.Int64
	h2   atomic.Int64
}

func (p *protoCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := p.next.RoundTrip(req)
	if err == nil {
		if resp.ProtoMajor == 2 {
			p.h2.Add(1)
		} else {
			p.h1.Add(1)
		}
	}
	return resp, err
}

func run(kubeconfig, kubeContext, op, mode string, gvr schema.GroupVersionResource, namespace, name string, concurrency int, duration, warmup time.Duration, useHTTP2 bool, qps float32, burst int, compression bool, cpuprofile string) error {
	loading := &clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(loading, &clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.QPS = qps
	cfg.Burst = burst
	cfg.DisableCompression = !compression
	cfg.UserAgent = "asa-bench-reference/client-go"
	if !useHTTP2 {
		cfg.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	counter := &protoCounter{}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		counter.next = rt
		return counter
	}

	res := result{Client: "client-go", Op: op, Mode: mode, Concurrency: concurrency, ClientGo: "k8s.io/client-go v0.37.2", Compression: compression, GoMaxProcs: runtime.GOMAXPROCS(0)}
	var collection, object string
	if op != "discovery" {
		if gvr.Group == "" || gvr.Resource == "" {
			return errors.New("--group and --resource are required for get/list")
		}
		collection = fmt.Sprintf("/apis/%s/%s/namespaces/%s/%s", gvr.Group, gvr.Version, namespace, gvr.Resource)
		object = collection + "/" + name
	}

	var do func(ctx context.Context) (int, error)
	switch mode {
	case "decoded":
		switch op {
		case "get", "list-quorum", "list-cache":
			dyn, err := dynamic.NewForConfig(cfg)
			if err != nil {
				return err
			}
			ri := dyn.Resource(gvr).Namespace(namespace)
			res.Accept = "application/json"
			switch op {
			case "get":
				if name == "" {
					return errors.New("--name is required for get")
				}
				res.Path = object
				do = func(ctx context.Context) (int, error) {
					u, err := ri.Get(ctx, name, metav1.GetOptions{})
					if err != nil {
						return 0, err
					}
					_ = u
					return 0, nil
				}
			case "list-quorum", "list-cache":
				opts := metav1.ListOptions{}
				res.Path = collection
				if op == "list-cache" {
					opts.ResourceVersion = "0"
					res.Path += "?resourceVersion=0"
				}
				do = func(ctx context.Context) (int, error) {
					l, err := ri.List(ctx, opts)
					if err != nil {
						return 0, err
					}
					if len(l.Items) == 0 {
						return 0, errors.New("empty list")
					}
					return 0, nil
				}
			}
		case "discovery":
			dc, err := discovery.NewDiscoveryClientForConfig(cfg)
			if err != nil {
				return err
			}
			rc := dc.RESTClient()
			res.Path, res.Accept = "/apis", discoveryAccept
			// What DiscoveryClient.downloadAPIs does with /apis (one request).
			do = func(ctx context.Context) (int, error) {
				var contentType string
				body, err := rc.Get().AbsPath("/apis").SetHeader("Accept", discoveryAccept).Do(ctx).ContentType(&contentType).Raw()
				if err != nil {
					return 0, err
				}
				if !strings.Contains(contentType, "as=APIGroupDiscoveryList") {
					return 0, fmt.Errorf("not aggregated discovery: content-type %q", contentType)
				}
				var agg apidiscoveryv2.APIGroupDiscoveryList
				if err := json.Unmarshal(body, &agg); err != nil {
					return 0, err
				}
				discovery.SplitGroupsAndResources(agg)
				return len(body), nil
			}
		default:
			return fmt.Errorf("unknown --op %q", op)
		}
	case "raw":
		dc, err := discovery.NewDiscoveryClientForConfig(cfg)
		if err != nil {
			return err
		}
		rc := dc.RESTClient()
		switch op {
		case "get":
			if name == "" {
				return errors.New("--name is required for get")
			}
			res.Path, res.Accept = object, "application/json"
		case "list-quorum":
			res.Path, res.Accept = collection, "application/json"
		case "list-cache":
			res.Path, res.Accept = collection+"?resourceVersion=0", "application/json"
		case "discovery":
			res.Path, res.Accept = "/apis", discoveryAccept
		default:
			return fmt.Errorf("unknown --op %q", op)
		}
		absPath, query, _ := strings.Cut(res.Path, "?")
		var params [][2]string
		for _, kv := range strings.Split(query, "&") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				params = append(params, [2]string{k, v})
			}
		}
		accept := res.Accept
		do = func(ctx context.Context) (int, error) {
			r := rc.Get().AbsPath(absPath).SetHeader("Accept", accept)
			for _, p := range params {
				r = r.Param(p[0], p[1])
			}
			body, err := r.DoRaw(ctx)
			return len(body), err
		}
	default:
		return fmt.Errorf("unknown --mode %q", mode)
	}

	ctx := context.Background()
	// One request first: fail fast on a wrong path or credential.
	if _, err := do(ctx); err != nil {
		return fmt.Errorf("first request %s: %w", res.Path, err)
	}

	if warmup > 0 {
		_, errs, _, _, _ := drive(ctx, do, concurrency, warmup, false)
		res.WarmupErrors = errs
		res.WarmupS = warmup.Seconds()
	}
	counter.h1.Store(0)
	counter.h2.Store(0)

	var ru0, ru1 syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru0); err != nil {
		return err
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	// BENCH_MARK lines tell bench/reference.mjs, as they happen, where the measured window is.
	fmt.Println("BENCH_MARK start")
	t0 := time.Now()
	n, errs, bytes, lat, sample := drive(ctx, do, concurrency, duration, true)
	elapsed := time.Since(t0)
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru1); err != nil {
		return err
	}
	fmt.Println("BENCH_MARK end")
	if cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	user := tv(ru1.Utime) - tv(ru0.Utime)
	sys := tv(ru1.Stime) - tv(ru0.Stime)
	res.Requests, res.Errors, res.Bytes, res.ErrorSample = n, errs, bytes, sample
	res.DurationS = elapsed.Seconds()
	res.CPUUserS, res.CPUSysS, res.CPUS = user, sys, user+sys
	res.RPS = float64(n) / elapsed.Seconds()
	if n > 0 {
		res.CPUUsPerReq = (user + sys) * 1e6 / float64(n)
	}
	res.P50Ms, res.P99Ms, res.MaxMs = pct(lat, 0.50), pct(lat, 0.99), pct(lat, 1)
	res.Protocols = map[string]int{"HTTP/1.1": int(counter.h1.Load()), "HTTP/2": int(counter.h2.Load())}
	switch {
	case counter.h2.Load() > 0 && counter.h1.Load() == 0:
		res.Protocol = "HTTP/2"
	case counter.h1.Load() > 0 && counter.h2.Load() == 0:
		res.Protocol = "HTTP/1.1"
	default:
		res.Protocol = "mixed"
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	return nil
}

// drive runs `concurrency` workers, each issuing its next request when the
// last one ends, until `d` has passed. Latencies (µs) are kept per worker in
// preallocated slices and merged once at the end.
func drive(ctx context.Context, do func(context.Context) (int, error), concurrency int, d time.Duration, keep bool) (n, errs, bytes int64, lat []int64, sample string) {
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	var mu sync.Mutex
	per := make([][]int64, concurrency)
	var nReq, nErr, nBytes atomic.Int64
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			local := make([]int64, 0, 1<<14)
			var count, failed, b int64
			for {
				start := time.Now()
				if !start.Before(deadline) {
					break
				}
				size, err := do(ctx)
				count++
				if err != nil {
					failed++
					mu.Lock()
					if sample == "" {
						sample = err.Error()
					}
					mu.Unlock()
				} else {
					b += int64(size)
					if keep {
						local = append(local, time.Since(start).Microseconds())
					}
				}
			}
			per[w] = local
			nReq.Add(count)
			nErr.Add(failed)
			nBytes.Add(b)
		}(w)
	}
	wg.Wait()
	if keep {
		total := 0
		for _, l := range per {
			total += len(l)
		}
		lat = make([]int64, 0, total)
		for _, l := range per {
			lat = append(lat, l...)
		}
		slices.Sort(lat)
	}
	return nReq.Load(), nErr.Load(), nBytes.Load(), lat, sample
}

func pct(sorted []int64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i]) / 1000
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
