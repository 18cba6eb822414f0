// Command httpd is a net/http server in a unikernel: the standard library's server, unmodified,
// on gVisor's TCP/IP stack over the netfront driver.
//
//	/            a line of text
//	/healthz     "ok"
//	/metrics     netfront's per-queue counters, offloads, TCP, grants and heap (Prometheus text)
//	/download    ?bytes=N: N bytes of a deterministic stream (internal/pattern), for throughput
//	/upload      POST: answers the body's length and SHA-256 (?hash=0: the length only)
//	/debug/pprof the runtime's profiles and execution tracer (net/http/pprof)
//
// The same handler is served with TLS on port 443 (crypto/tls, unmodified), with a
// self-signed certificate made at start.
//
// On Xen (make examples, then xl create examples/httpd/httpd.cfg) it listens on the address
// given by extra= in its xl config. Hosted (make run, or go run ./examples/httpd) it runs over
// the simulated Xen and is reachable at http://127.0.0.1:8080/.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/tamaxen/tamaxen/internal/pattern"
	"github.com/tamaxen/tamaxen/unikernel"
)

// maxDownload bounds /download (16 GiB).
const maxDownload = 16 << 30

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	u, err := unikernel.Start(ctx, unikernel.Options{
		Name:    "httpd",
		Forward: []unikernel.Forward{{Host: "127.0.0.1:8080", Guest: 80}, {Host: "127.0.0.1:8443", Guest: 443}},
	})
	cancel()
	if err != nil {
		unikernel.Fatal("httpd", err)
		return
	}
	l, err := u.Listen("tcp", ":80")
	if err != nil {
		u.Exit(err)
		return
	}
	tl, err := u.Listen("tcp", ":443")
	if err != nil {
		u.Exit(err)
		return
	}
	cert, err := selfSigned(u.Net.Addr().Addr().String())
	if err != nil {
		u.Exit(err)
		return
	}
	// Slow or idle clients must not pin the guest's few connections (netstack.Limits): a
	// request line and headers within 10 s, a connection idle for a minute is closed, and no
	// request or response may take more than 5 minutes (a 64 MiB transfer takes seconds).
	srv := &http.Server{Handler: handler(u), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
		ReadTimeout: 5 * time.Minute, WriteTimeout: 5 * time.Minute}
	tsrv := &http.Server{Handler: srv.Handler, ReadHeaderTimeout: srv.ReadHeaderTimeout, IdleTimeout: srv.IdleTimeout,
		ReadTimeout: srv.ReadTimeout, WriteTimeout: srv.WriteTimeout}
	go func() {
		if err := srv.Serve(l); err != http.ErrServerClosed {
			u.Logf("serve: %v", err)
		}
	}()
	go func() {
		tlsl := tls.NewListener(tl, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		if err := tsrv.Serve(tlsl); err != http.ErrServerClosed {
			u.Logf("serve tls: %v", err)
		}
	}()
	u.Logf("ready %s port 80 (TLS on 443)", u.Net.Addr().Addr())
	<-u.Done()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = srv.Shutdown(sctx)
	_ = tsrv.Shutdown(sctx)
	scancel()
	u.Exit(u.Close())
}

// selfSigned makes an ECDSA P-256 certificate for host, valid for a day.
func selfSigned(host string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "tamaxen httpd"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// copyBufs are the buffers /download and /upload copy through: 64 KiB, a TSO frame's worth,
// reused across requests, so that the example's own memory does not grow with the number of
// transfers running (the stack's limits bound that number, not the bytes each allocates).
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

func handler(u *unikernel.Unikernel) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from tamaxen: Go's net/http on gVisor over netfront (%s)\n", u.Where())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := u.Net.Device().Err(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_ = u.Net.WriteMetrics(w)
	})
	// The runtime's profiles: goroutine stacks, heap and allocations, and the execution
	// tracer (/debug/pprof/trace?seconds=N, for go tool trace), which shows where the
	// datapath's goroutines run and wait. The CPU profile needs SIGPROF, which TamaGo has
	// not: on Xen it comes back empty, and go_cpu_classes_seconds_total on /metrics tells the
	// busy share instead.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /download", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
		if err != nil || n < 0 || n > maxDownload {
			http.Error(w, "want ?bytes=N, 0 <= N <= 16 GiB", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		buf := copyBufs.Get().(*[]byte)
		defer copyBufs.Put(buf)
		_, _ = io.CopyBuffer(w, pattern.NewReader(n), *buf)
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("hash") == "0" { // a sink for throughput: the length only
			buf := copyBufs.Get().(*[]byte)
			defer copyBufs.Put(buf)
			n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, r.Body, *buf)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "%d\n", n)
			return
		}
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %x\n", n, h.Sum(nil))
	})
	return mux
}
