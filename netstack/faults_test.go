// Faults under TCP, read through the stack's own accounting: the /metrics text, parsed.

package netstack_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/netstack"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
)

// sample is one line of the metrics text: a name, its labels and a value.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// metrics is WriteMetrics' output, parsed.
type metrics []sample

// parseMetrics reads Prometheus' text format as WriteMetrics writes it: comments, then one
// sample a line, "name{k="v",...} value" or "name value".
func parseMetrics(r io.Reader) (metrics, error) {
	var m metrics
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("metrics: no value in %q", line)
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: %q: %w", line, err)
		}
		s := sample{name: line[:sp], labels: map[string]string{}, value: v}
		if i := strings.IndexByte(s.name, '{'); i >= 0 {
			if !strings.HasSuffix(s.name, "}") {
				return nil, fmt.Errorf("metrics: labels of %q", line)
			}
			for _, kv := range splitLabels(s.name[i+1 : len(s.name)-1]) {
				k, q, ok := strings.Cut(kv, "=")
				uq, err := strconv.Unquote(q)
				if !ok || err != nil {
					return nil, fmt.Errorf("metrics: label %q of %q", kv, line)
				}
				s.labels[k] = uq
			}
			s.name = s.name[:i]
		}
		m = append(m, s)
	}
	return m, sc.Err()
}

// splitLabels splits k="v",k="v" at the commas outside quotes.
func splitLabels(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// readMetrics parses the stack's metrics now.
func readMetrics(t *testing.T, s *netstack.Stack) metrics {
	t.Helper()
	var b strings.Builder
	require.NoError(t, s.WriteMetrics(&b))
	m, err := parseMetrics(strings.NewReader(b.String()))
	require.NoError(t, err)
	return m
}

// sum adds the samples of name whose labels include every pair in labels ("k", "v", ...).
func (m metrics) sum(name string, labels ...string) float64 {
	var total float64
	for _, s := range m {
		if s.name != name {
			continue
		}
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			ok = ok && s.labels[labels[i]] == labels[i+1]
		}
		if ok {
			total += s.value
		}
	}
	return total
}

// has reports whether a sample of name with those labels exists.
func (m metrics) has(name string, labels ...string) bool {
	for _, s := range m {
		if s.name != name {
			continue
		}
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			ok = ok && s.labels[labels[i]] == labels[i+1]
		}
		if ok {
			return true
		}
	}
	return false
}

// The accounting a fault test relies on is in the metrics: ring occupancy per queue, drops
// and errors by cause, link state, grants, goroutines and heap; at rest the rings are full
// of RX buffers and empty of TX.
func TestMetricsAccounting(t *testing.T) {
	r := newRig(t, "ip=10.0.0.2/24", nil, netfront.Config{Queues: 2})
	// At rest: the guest's announcements, sent as Open returns, are answered.
	require.Eventually(t, func() bool { return readMetrics(t, r.guest).sum("tamaxen_netfront_tx_inflight") == 0 },
		10*time.Second, time.Millisecond, "the announcements are never answered")
	m := readMetrics(t, r.guest)
	for q := range 2 {
		qs := strconv.Itoa(q)
		for _, s := range [][]string{
			{"tamaxen_netfront_tx_inflight", "queue", qs},
			{"tamaxen_netfront_rx_posted", "queue", qs},
			{"tamaxen_netfront_violations_total", "queue", qs},
			{"tamaxen_netfront_dropped_total", "queue", qs, "dir", "tx", "cause", "deadline"},
			{"tamaxen_netfront_dropped_total", "queue", qs, "dir", "tx", "cause", "too_big"},
			{"tamaxen_netfront_dropped_total", "queue", qs, "dir", "rx", "cause", "runt"},
			{"tamaxen_netfront_errors_total", "queue", qs, "dir", "tx", "cause", "backend"},
			{"tamaxen_netfront_errors_total", "queue", qs, "dir", "rx", "cause", "backend"},
			{"tamaxen_netfront_errors_total", "queue", qs, "dir", "rx", "cause", "bad_gso"},
		} {
			assert.True(t, m.has(s[0], s[1:]...), "%v", s)
		}
	}
	for _, s := range [][]string{
		{"tamaxen_netstack_tx_errors_total", "cause", "unsupported"},
		{"tamaxen_netstack_tx_errors_total", "cause", "device"},
		{"tamaxen_netstack_rx_dropped_total", "cause", "other_host"},
		{"tamaxen_netstack_rx_dropped_total", "cause", "malformed"},
		{"tamaxen_netstack_rx_bad_checksum_total"},
		{"tamaxen_netfront_connected"}, {"tamaxen_netfront_broken"}, {"tamaxen_netfront_reconnects_total"},
		{"tamaxen_gnttab_refs_in_use"}, {"go_goroutines"}, {"go_memstats_heap_inuse_bytes"},
		{"tamaxen_evtchn_notifications_total"}, {"tamaxen_evtchn_upcalls_total"},
	} {
		assert.True(t, m.has(s[0], s[1:]...), "%v", s)
	}
	assert.Positive(t, m.sum("tamaxen_evtchn_notifications_total"), "the handshake and the first frames notified the backend")
	assert.EqualValues(t, 1, m.sum("tamaxen_netfront_connected"))
	assert.EqualValues(t, 0, m.sum("tamaxen_netfront_broken"))
	assert.EqualValues(t, 2*128, m.sum("tamaxen_netfront_rx_posted"))
	assert.EqualValues(t, 0, m.sum("tamaxen_netfront_tx_inflight"))
	assert.EqualValues(t, r.m.Guest.Grants.InUse(), m.sum("tamaxen_gnttab_refs_in_use"))
	// Two queues of 2 rings, 64 TX and 128 RX pages each.
	assert.EqualValues(t, 2*(2+64+128), m.sum("tamaxen_gnttab_refs_in_use"))
	// Where the CPU went, by class: the parts never exceed the total.
	total := m.sum("go_cpu_classes_seconds_total", "class", "total")
	assert.Positive(t, total)
	for _, class := range []string{"user", "gc", "idle", "scavenge"} {
		require.True(t, m.has("go_cpu_classes_seconds_total", "class", class), class)
		assert.LessOrEqual(t, m.sum("go_cpu_classes_seconds_total", "class", class), total, class)
	}
}

// download fetches /download?bytes=n from the guest and checks the digest; onProgress is
// called once, after half the bytes arrived.
func (r *rig) download(t *testing.T, n int64, onProgress func()) {
	t.Helper()
	resp, err := r.client(netip.MustParseAddrPort("10.0.0.2:80")).Get(fmt.Sprintf("http://guest/download?bytes=%d", n))
	require.NoError(t, err)
	defer resp.Body.Close()
	h := sha256.New()
	got, err := io.CopyN(h, resp.Body, n/2)
	require.NoError(t, err)
	onProgress()
	rest, err := io.Copy(h, resp.Body)
	require.NoError(t, err)
	require.Equal(t, n, got+rest)
	require.Equal(t, digest(n), fmt.Sprintf("%x", h.Sum(nil)))
}

// The backend closes in the middle of a TCP download (a driver domain restarting): the device
// reconnects, TCP retransmits what was lost, the download completes intact, and the metrics
// show one reconnection, the link up, no violation and the same grants as before. Whether
// anything was lost at all depends on what was in the ring at that instant (nothing, when the
// client's window had closed and the guest was waiting), so retransmissions are only logged.
func TestFaultDisconnectUnderTCP(t *testing.T) {
	var downs atomic.Int64
	r := newRig(t, "ip=10.0.0.2/24", nil, netfront.Config{Link: func(up bool) {
		if !up {
			downs.Add(1)
		}
	}})
	l, err := r.guest.Listen("tcp", ":80")
	require.NoError(t, err)
	serveHTTP(t, l)
	before := readMetrics(t, r.guest)
	r.download(t, 4<<20, func() { r.m.Backend.Disconnect() })
	m := readMetrics(t, r.guest)
	assert.EqualValues(t, 1, downs.Load())
	assert.EqualValues(t, 1, m.sum("tamaxen_netfront_reconnects_total"))
	assert.EqualValues(t, 1, m.sum("tamaxen_netfront_connected"))
	assert.EqualValues(t, 0, m.sum("tamaxen_netfront_broken"))
	assert.EqualValues(t, 0, m.sum("tamaxen_netfront_violations_total"))
	assert.Equal(t, before.sum("tamaxen_gnttab_refs_in_use"), m.sum("tamaxen_gnttab_refs_in_use"))
	t.Logf("retransmitted %v segments across the disconnection",
		m.sum("tamaxen_tcp_retransmits_total")-before.sum("tamaxen_tcp_retransmits_total"))
	require.Eventually(t, func() bool {
		m := readMetrics(t, r.guest)
		return m.sum("tamaxen_netfront_tx_inflight") == 0 && m.sum("tamaxen_netfront_rx_posted") == 128
	}, 10*time.Second, time.Millisecond, "the rings do not come to rest")
}

// The backend stalls for a while in the middle of a TCP download: TCP waits it out, nothing
// is dropped or broken, and the rings come back to rest.
func TestFaultStallUnderTCP(t *testing.T) {
	stall := time.Second
	if testing.Short() {
		stall = 200 * time.Millisecond
	}
	r := newRig(t, "ip=10.0.0.2/24", nil, netfront.Config{})
	l, err := r.guest.Listen("tcp", ":80")
	require.NoError(t, err)
	serveHTTP(t, l)
	r.download(t, 4<<20, func() {
		r.m.Backend.SetFault(netback.FaultStall)
		time.AfterFunc(stall, func() { r.m.Backend.SetFault(netback.FaultNone) })
	})
	m := readMetrics(t, r.guest)
	assert.EqualValues(t, 0, m.sum("tamaxen_netfront_dropped_total"))
	assert.EqualValues(t, 0, m.sum("tamaxen_netfront_errors_total"))
	assert.EqualValues(t, 0, m.sum("tamaxen_netfront_violations_total"))
	assert.EqualValues(t, 0, m.sum("tamaxen_netfront_reconnects_total"))
	require.Eventually(t, func() bool {
		m := readMetrics(t, r.guest)
		return m.sum("tamaxen_netfront_tx_inflight") == 0 && m.sum("tamaxen_netfront_rx_posted") == 128
	}, 10*time.Second, time.Millisecond, "the rings do not come to rest")
}

// A backend that breaks the protocol under TCP: the device stops for good with a violation
// counted and the metrics say so, the stack's senders get errors instead of waiting, and
// closing gives every grant back (newRig's cleanup checks).
func TestFaultViolationUnderTCP(t *testing.T) {
	r := newRig(t, "ip=10.0.0.2/24", nil, netfront.Config{})
	l, err := r.guest.Listen("tcp", ":80")
	require.NoError(t, err)
	serveHTTP(t, l)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://guest/download?bytes=67108864", nil)
	require.NoError(t, err)
	resp, err := r.client(netip.MustParseAddrPort("10.0.0.2:80")).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, err = io.CopyN(io.Discard, resp.Body, 1<<20)
	require.NoError(t, err)
	r.m.Backend.SetFault(netback.FaultRxBadID)
	require.Eventually(t, func() bool { return r.guest.Device().Err() != nil }, 10*time.Second, time.Millisecond)
	assert.ErrorIs(t, r.guest.Device().Err(), netfront.ErrBroken)
	m := readMetrics(t, r.guest)
	assert.EqualValues(t, 1, m.sum("tamaxen_netfront_broken"))
	assert.GreaterOrEqual(t, m.sum("tamaxen_netfront_violations_total"), 1.0)
	// The guest's sender, the HTTP handler, is not stuck on the ring: its writes fail.
	require.Eventually(t, func() bool {
		return readMetrics(t, r.guest).sum("tamaxen_netstack_tx_errors_total", "cause", "device") > 0
	}, 10*time.Second, time.Millisecond)
	cancel()
	r.m.Backend.SetFault(netback.FaultNone)
}

// Closing the stack while the backend has stopped taking frames (stalled, or gone while
// detached) must not wait for it: the outgoing queue's goroutines are then blocked handing a
// packet to netfront, and the stack's Close waits for them, so the endpoint's waits end
// first.
func TestCloseWithBackendStalled(t *testing.T) {
	// Without TSO a frame takes one slot, so the send buffer outgrows the ring and packets
	// wait in the queue behind it.
	r := newRig(t, "ip=10.0.0.2/24", nil, netfront.Config{NoGSO: true})
	l, err := r.guest.Listen("tcp", ":80")
	require.NoError(t, err)
	serveHTTP(t, l)
	resp, err := r.client(netip.MustParseAddrPort("10.0.0.2:80")).Get("http://guest/download?bytes=67108864")
	require.NoError(t, err)
	// 16 MiB first, so that TCP's congestion window has grown past what the ring holds.
	_, err = io.CopyN(io.Discard, resp.Body, 16<<20)
	require.NoError(t, err)
	// The client goes on reading, so that TCP's window stays open and the guest keeps
	// sending into the stalled ring until its queue fills.
	read := make(chan struct{})
	go func() {
		defer close(read)
		_, _ = io.Copy(io.Discard, resp.Body)
	}()
	r.m.Backend.SetFault(netback.FaultStall)
	defer func() {
		r.m.Backend.SetFault(netback.FaultNone)
		resp.Body.Close()
		<-read
	}()
	require.Eventually(t, func() bool {
		return readMetrics(t, r.guest).sum("tamaxen_netstack_tx_queue_segments") > 0
	}, 30*time.Second, time.Millisecond, "the outgoing queue never filled behind the stalled ring")
	done := make(chan error, 1)
	go func() { done <- r.guest.Close() }()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Stack.Close is waiting for the stalled backend")
	}
}
