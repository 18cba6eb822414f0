// Command bulkguest is the unikernel side of the bulk TCP benchmark: the bulk server (package
// bulk, the same code the Linux domU runs) on port 5201, and on port 80 a line of text at /
// and the stack's counters at /metrics, with the board's upcall counters, for the figures of
// where the time goes (each /metrics runs a GC first, so that the CPU classes are current).
//
// make xen-bench builds it (go run ./cmd/tamaxen build ./tools/xenbench/bulkguest) and boots
// it with bulkguest.cfg. Hosted (go run ./tools/xenbench/bulkguest) it runs over the
// simulated Xen, reachable at 127.0.0.1:5201 and :8080.
package main

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"time"

	"github.com/tamaxen/tamaxen/tools/xenbench/bulk"
	"github.com/tamaxen/tamaxen/unikernel"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	u, err := unikernel.Start(ctx, unikernel.Options{
		Name:    "bulkguest",
		Forward: []unikernel.Forward{{Host: "127.0.0.1:8080", Guest: 80}, {Host: "127.0.0.1:5201", Guest: 5201}},
	})
	cancel()
	if err != nil {
		unikernel.Fatal("bulkguest", err)
		return
	}
	bl, err := u.Listen("tcp", ":5201")
	if err != nil {
		u.Exit(err)
		return
	}
	hl, err := u.Listen("tcp", ":80")
	if err != nil {
		u.Exit(err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "bulk server on port 5201 (%s)\n", u.Where())
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		// The runtime updates go_cpu_classes_seconds_total only at a GC, and the bulk
		// transfers allocate nothing: a GC first makes each reading current.
		runtime.GC()
		if err := u.Net.WriteMetrics(w); err == nil {
			writeBoardMetrics(w)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	go func() {
		if err := srv.Serve(hl); err != http.ErrServerClosed {
			u.Logf("serve: %v", err)
		}
	}()
	bs := &bulk.Server{Logf: u.Logf}
	go func() {
		if err := bs.Serve(bl); err != nil {
			u.Logf("bulk: %v", err)
		}
	}()
	u.Logf("ready %s bulk on 5201, /metrics on 80", u.Net.Addr().Addr())
	<-u.Done()
	_ = bl.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = srv.Shutdown(sctx)
	scancel()
	u.Exit(u.Close())
}
