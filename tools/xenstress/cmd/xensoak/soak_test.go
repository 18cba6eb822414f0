package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/internal/pattern"
)

// fakeHTTPD serves /download and /upload as examples/httpd does; flip, when set, alters one
// byte of every download.
func fakeHTTPD(t *testing.T, flip bool) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /download", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("bytes"), 10, 64)
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		b, _ := io.ReadAll(pattern.NewReader(n))
		if flip && n > 0 {
			b[n/2] ^= 1
		}
		_, _ = w.Write(b)
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %x\n", n, h.Sum(nil))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// fakeEcho answers TCP and UDP echo on one loopback port.
func fakeEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	pc, err := net.ListenPacket("udp", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(buf[:n], from)
		}
	}()
	return ln.Addr().String()
}

func testConfig(httpBase, echo string) config {
	return config{
		httpBase: httpBase, echoAddr: echo,
		duration: 1500 * time.Millisecond, downloads: 2, uploads: 2, tcpEcho: 2,
		udpFlows: 2, udpRate: 200, udpSize: 600,
		dlSizes: []int64{0, 1, 70000, 1 << 20}, ulSizes: []int64{0, 3, 100000},
		echoSize: 20000, xferTimout: 10 * time.Second,
	}
}

func TestSoakCleanRun(t *testing.T) {
	var progress strings.Builder
	c := testConfig(fakeHTTPD(t, false), fakeEcho(t))
	c.progress = 500 * time.Millisecond
	r := run(context.Background(), c, &progress)
	assert.True(t, r.ok(), r.summary())
	assert.Positive(t, r.download.ok)
	assert.Positive(t, r.upload.ok)
	assert.Positive(t, r.echo.ok)
	assert.Positive(t, r.udpSent)
	assert.Equal(t, r.udpSent, r.udpRecv, "loopback loses no datagram")
	assert.Zero(t, r.udpAltered)
	assert.Contains(t, progress.String(), "soak: at ")
	kv := r.keyValues()
	assert.True(t, strings.HasPrefix(kv, "soak-result seconds="), kv)
	assert.Contains(t, kv, " dl_failed=0 dl_corrupt=0 ")
	assert.Contains(t, kv, " udp_loss_pct=0.000")
}

func TestSoakCountsCorruptDownloads(t *testing.T) {
	c := testConfig(fakeHTTPD(t, true), "")
	c.uploads = 0
	r := run(context.Background(), c, io.Discard)
	assert.False(t, r.ok())
	assert.Positive(t, r.download.corrupt)
	assert.Contains(t, r.summary(), "SHA-256")
}

func TestSoakCountsFailedTransfers(t *testing.T) {
	// Nothing listens: every download, upload and echo connection fails.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	c := testConfig("http://"+addr, addr)
	c.duration = 300 * time.Millisecond
	r := run(context.Background(), c, io.Discard)
	assert.False(t, r.ok())
	assert.Positive(t, r.download.failed)
	assert.Positive(t, r.upload.failed)
	assert.Zero(t, r.download.corrupt)
	assert.Equal(t, r.udpSent, r.udpRecv+(r.udpSent-r.udpRecv)) // no answer needed to count
	assert.Zero(t, r.udpRecv)
}
