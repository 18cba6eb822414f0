//go:build !tamago

package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/internal/pattern"
	"github.com/tamaxen/tamaxen/unikernel"
)

// TestHostedHTTPD is make run's flow in one process: the example's handler in hosted mode,
// reached from the host through the forwarded port, the userspace host stack, the simulated
// netback and netfront; with a capture that tshark must be able to read.
func TestHostedHTTPD(t *testing.T) {
	capture := filepath.Join(t.TempDir(), "httpd.pcapng")
	unikernel.Hosted = &unikernel.HostedFlags{
		Forward: []unikernel.Forward{{Host: "127.0.0.1:0", Guest: 80}, {Host: "127.0.0.1:0", Guest: 443}},
		Pcap:    capture,
	}
	t.Cleanup(func() { unikernel.Hosted = nil })
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := unikernel.Start(ctx, unikernel.Options{Name: "httpd"})
	require.NoError(t, err)
	l, err := u.Listen("tcp", ":80")
	require.NoError(t, err)
	srv := &http.Server{Handler: handler(u)}
	go func() { _ = srv.Serve(l) }()
	require.Len(t, u.Forwarded(), 2)
	base := "http://" + u.Forwarded()[0].String()

	// crypto/tls over the guest's stack: the example's self-signed certificate.
	tl, err := u.Listen("tcp", ":443")
	require.NoError(t, err)
	cert, err := selfSigned(u.Net.Addr().Addr().String())
	require.NoError(t, err)
	tsrv := &http.Server{Handler: handler(u)}
	go func() {
		_ = tsrv.Serve(tls.NewListener(tl, &tls.Config{Certificates: []tls.Certificate{cert}}))
	}()
	defer tsrv.Close()
	tc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	tresp, err := tc.Get("https://" + u.Forwarded()[1].String() + "/healthz")
	require.NoError(t, err)
	tb, _ := io.ReadAll(tresp.Body)
	tresp.Body.Close()
	assert.Equal(t, "ok\n", string(tb))
	require.NotNil(t, tresp.TLS)
	assert.Equal(t, "tamaxen httpd", tresp.TLS.PeerCertificates[0].Subject.CommonName)

	get := func(path string) string {
		resp, err := http.Get(base + path)
		require.NoError(t, err, path)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	assert.Contains(t, get("/"), "hello from tamaxen")
	t.Logf("first answer %v after start", time.Since(began))
	assert.Equal(t, "ok\n", get("/healthz"))
	assert.Contains(t, get("/debug/pprof/goroutine?debug=1"), "goroutine profile:")
	assert.Contains(t, get("/metrics"), `go_cpu_classes_seconds_total{class="idle"}`)

	const size = 16 << 20
	resp, err := http.Get(fmt.Sprintf("%s/download?bytes=%d", base, size))
	require.NoError(t, err)
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.EqualValues(t, size, n)
	want := sha256.New()
	_, _ = io.Copy(want, pattern.NewReader(size))
	assert.Equal(t, want.Sum(nil), h.Sum(nil), "download corrupted")

	resp, err = http.Post(base+"/upload", "application/octet-stream", pattern.NewReader(size))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, fmt.Sprintf("%d %x\n", size, want.Sum(nil)), string(b))

	resp, err = http.Post(base+"/upload?hash=0", "application/octet-stream", pattern.NewReader(size))
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, fmt.Sprintf("%d\n", size), string(b))

	resp, err = http.Get(base + "/download?bytes=-1")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)

	metrics := get("/metrics")
	sum := func(re string) uint64 {
		var total uint64
		for _, m := range regexp.MustCompile(`(?m)^`+re+` (\d+)$`).FindAllStringSubmatch(metrics, -1) {
			v, _ := strconv.ParseUint(m[1], 10, 64)
			total += v
		}
		return total
	}
	assert.NotZero(t, sum(`tamaxen_netfront_packets_total\{queue="\d+",dir="tx"\}`), "tx packets")
	assert.NotZero(t, sum(`tamaxen_netfront_packets_total\{queue="\d+",dir="rx"\}`), "rx packets")
	assert.NotZero(t, sum(`tamaxen_netfront_gso_packets_total\{queue="\d+",dir="tx"\}`), "TSO frames sent")
	assert.NotZero(t, sum(`tamaxen_netfront_gso_packets_total\{queue="\d+",dir="rx"\}`), "GSO frames received")
	assert.NotZero(t, sum(`tamaxen_netstack_tx_csum_offload_total`), "checksum offload")
	assert.Zero(t, sum(`tamaxen_netfront_violations_total\{queue="\d+"\}`))

	require.NoError(t, srv.Close())
	require.NoError(t, u.Close())

	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed: capture not checked")
	}
	out, err := exec.Command("tshark", "-r", capture, "-Y", "http").Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), "GET / HTTP/1.1")
	assert.Contains(t, string(out), "HTTP/1.1 200 OK")
	out, err = exec.Command("tshark", "-r", capture, "-T", "fields", "-e", "frame.comment").Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), "gso=tcpv4", "offload metadata in the capture")
	t.Logf("capture: %d frames", strings.Count(string(out), "\n"))
}
