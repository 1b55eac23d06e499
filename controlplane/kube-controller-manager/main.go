// kube-controller-manager, built from the k8s.io/kubernetes module (or a source
// tree) that the kube-apiserver beside it comes from.
//
// This file is a template: asa-bench copies it into a per-build folder beside a
// generated go.mod (see src/controlplane/build.ts). It mirrors upstream
// cmd/kube-controller-manager/controller-manager.go.
package main

import (
	"os"
	_ "time/tzdata" // for CronJob time zone support

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
