// The CRD-only API server (`--server VERSION,flavour=crd-only`): the upstream
// apiextensions-apiserver (CRDs and custom resources, no core API), built from
// the k8s.io/apiextensions-apiserver module at the kube version's v0.<minor>.<patch>.
//
// This file is a template: asa-bench copies it into a per-version build folder
// beside a generated go.mod (see src/controlplane/crd-only.ts).
//
// It mirrors upstream main.go and pkg/cmd/server/server.go with two changes,
// because the stock command answers 404 to aggregated `/apis` and to
// `/openapi/v2` and so cannot be compared with kube-apiserver:
//   - the options' Config() sets only the OpenAPI v3 config; we add the v2
//     config as kube-apiserver does (pkg/controlplane/apiserver/config.go), so
//     the CRD OpenAPI v2 controller runs and /openapi/v2 holds the CRD types;
//   - apiserver.Config.Complete() turns discovery off (inside kube-apiserver
//     the aggregator serves it); we turn it back on, so /apis and
//     /apis/<group>/<version> (legacy and aggregated) are served;
//   - the unaggregated /apis then lists only apiextensions.k8s.io: in
//     kube-apiserver the aggregator lists CRD groups (from the APIServices
//     its CRD registration controller writes). listCRDGroups does that here,
//     so a legacy discovery fan-out walks the same groups on both servers.
package main

import (
	"context"
	"os"
	"sort"

	"github.com/spf13/cobra"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apiserver/pkg/endpoints/discovery"
	"k8s.io/client-go/tools/cache"

	"k8s.io/apiextensions-apiserver/pkg/apiserver"
	"k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	generatedopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/util/openapi"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
)

func main() {
	ctx := genericapiserver.SetupSignalContext()
	os.Exit(cli.Run(newCommand(ctx)))
}

func newCommand(ctx context.Context) *cobra.Command {
	o := options.NewCustomResourceDefinitionsServerOptions(os.Stdout, os.Stderr)
	cmd := &cobra.Command{
		Use:   "apiextensions-apiserver",
		Short: "The CRD API server alone, with discovery and OpenAPI v2 (asa-bench)",
		// As kube-apiserver: a bad flag is one line in the log, not the whole usage.
		SilenceUsage: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return o.ServerRunOptions.ComponentGlobalsRegistry.Set()
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return run(c.Context(), o)
		},
	}
	cmd.SetContext(ctx)
	o.AddFlags(cmd.Flags())
	return cmd
}

func run(ctx context.Context, o *options.CustomResourceDefinitionsServerOptions) error {
	config, err := o.Config()
	if err != nil {
		return err
	}
	definitions := openapi.GetOpenAPIDefinitionsWithoutDisabledFeatures(generatedopenapi.GetOpenAPIDefinitions)
	config.GenericConfig.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(definitions, openapinamer.NewDefinitionNamer(apiserver.Scheme, scheme.Scheme))
	config.GenericConfig.OpenAPIConfig.Info.Title = "apiextensions-apiserver"
	completed := config.Complete()
	completed.GenericConfig.EnableDiscovery = true
	server, err := completed.New(genericapiserver.NewEmptyDelegate())
	if err != nil {
		return err
	}
	listCRDGroups(server, server.GenericAPIServer.DiscoveryGroupManager)
	return server.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}

// listCRDGroups keeps the unaggregated /apis list in step with the CRDs: a
// group is listed with every version some CRD of it serves, the versions in
// Kubernetes' priority order (as the aggregator orders them).
func listCRDGroups(server *apiserver.CustomResourceDefinitions, groups discovery.GroupManager) {
	informer := server.Informers.Apiextensions().V1().CustomResourceDefinitions()
	lister := informer.Lister()
	sync := func(obj interface{}) {
		crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
		if !ok {
			tombstone, ok := obj.(cache.DeletedFinalStateUnknown)
			if !ok {
				return
			}
			if crd, ok = tombstone.Obj.(*apiextensionsv1.CustomResourceDefinition); !ok {
				return
			}
		}
		group := crd.Spec.Group
		all, err := lister.List(labels.Everything())
		if err != nil {
			return
		}
		served := map[string]bool{}
		for _, c := range all {
			if c.Spec.Group != group || c.DeletionTimestamp != nil {
				continue
			}
			for _, v := range c.Spec.Versions {
				if v.Served {
					served[v.Name] = true
				}
			}
		}
		if len(served) == 0 {
			groups.RemoveGroup(group)
			return
		}
		names := make([]string, 0, len(served))
		for v := range served {
			names = append(names, v)
		}
		sort.Slice(names, func(i, j int) bool { return version.CompareKubeAwareVersionStrings(names[i], names[j]) > 0 })
		versions := make([]metav1.GroupVersionForDiscovery, 0, len(names))
		for _, v := range names {
			versions = append(versions, metav1.GroupVersionForDiscovery{GroupVersion: group + "/" + v, Version: v})
		}
		groups.AddGroup(metav1.APIGroup{Name: group, Versions: versions, PreferredVersion: versions[0]})
	}
	_, _ = informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    sync,
		UpdateFunc: func(_, obj interface{}) { sync(obj) },
		DeleteFunc: sync,
	})
}
