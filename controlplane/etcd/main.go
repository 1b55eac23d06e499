// etcd 3.6, built from go.etcd.io/etcd/server/v3 (Debian's etcd 3.4 is too old
// for current API servers). Same entry point as upstream's etcd binary.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
