// kube-apiserver, built from the k8s.io/kubernetes module at the version asa-bench asks for.
//
// This file is a template: asa-bench copies it into a per-version build folder
// beside a generated go.mod (see src/controlplane/build.ts), because the
// staging-module replace lines differ from one Kubernetes version to the next.
// It mirrors upstream cmd/kube-apiserver/apiserver.go.
package main

import (
	"os"
	_ "time/tzdata" // for timeZone support in CronJob

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
