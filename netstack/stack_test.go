package netstack_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/internal/pattern"
	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/netstack"
	"github.com/tamaxen/tamaxen/netstack/hostnet"
	"github.com/tamaxen/tamaxen/netstack/netcfg"
	"github.com/tamaxen/tamaxen/xen/sim/machine"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
)

// rig is a guest stack on the simulated Xen, with the host stack on the other side of the vif.
type rig struct {
	m     *machine.Machine
	host  *hostnet.Host
	guest *netstack.Stack
}

func newRig(t *testing.T, cmdline string, nb *netback.Config, dev netfront.Config) *rig {
	t.Helper()
	return newRigMem(t, cmdline, nb, dev, 0)
}

// newRigMem is newRig for a guest of mem bytes (0: netstack's default).
func newRigMem(t *testing.T, cmdline string, nb *netback.Config, dev netfront.Config, mem uint64) *rig {
	t.Helper()
	before := runtime.NumGoroutine()
	m, err := machine.New(machine.Config{Netback: nb})
	require.NoError(t, err)
	r := &rig{m: m}
	r.host, err = hostnet.New(m.Backend, hostnet.Config{})
	require.NoError(t, err)
	nc, err := netcfg.Parse(cmdline)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r.guest, err = netstack.Open(ctx, m.Platform, netstack.Config{Net: nc, Device: dev, Logf: t.Logf, Memory: mem})
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, r.guest.Close())
		r.host.Close()
		assert.Zero(t, m.Guest.Grants.InUse(), "grant references leaked")
		m.Close()
		assert.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+1 }, 10*time.Second, 10*time.Millisecond,
			"goroutines left behind")
	})
	return r
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// serveHTTP serves, on the guest, / and /download?bytes=N (the pattern stream).
func serveHTTP(t *testing.T, l net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello from the guest") })
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		var n int64
		_, _ = fmt.Sscan(r.URL.Query().Get("bytes"), &n)
		w.Header().Set("Content-Length", fmt.Sprint(n))
		_, _ = io.Copy(w, pattern.NewReader(n))
	})
	mux.HandleFunc("/upload", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// client is an HTTP client whose connections are made by the host stack.
func (r *rig) client(to netip.AddrPort) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return r.host.Dial(ctx, "tcp", to) },
	}, Timeout: 60 * time.Second}
}

func digest(n int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, pattern.NewReader(n))
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestHTTPOverSimulatedXen(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cmdline string
		nb      *netback.Config
		dev     netfront.Config
		gso     bool
	}{
		{name: "offloads", cmdline: "ip=10.0.0.2/24 gw=10.0.0.1", gso: true},
		{name: "dhcp", cmdline: "", gso: true},
		{name: "no offloads", cmdline: "ip=10.0.0.2/24", dev: netfront.Config{NoGSO: true, NoCsumOffload: true}},
		{name: "no sg", cmdline: "ip=10.0.0.2/24", dev: netfront.Config{NoSG: true}},
		{name: "two queues", cmdline: "ip=10.0.0.2/24", dev: netfront.Config{Queues: 2}, gso: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.cmdline, tc.nb, tc.dev)
			assert.Equal(t, "10.0.0.2/24", r.guest.Addr().String())
			l, err := r.guest.Listen("tcp", ":80")
			require.NoError(t, err)
			serveHTTP(t, l)
			c := r.client(netip.MustParseAddrPort("10.0.0.2:80"))

			resp, err := c.Get("http://guest/")
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, "hello from the guest\n", string(body))

			const size = 8 << 20
			start := time.Now()
			defer func() { t.Logf("took %v", time.Since(start)) }()
			resp, err = c.Get(fmt.Sprintf("http://guest/download?bytes=%d", size))
			require.NoError(t, err)
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.EqualValues(t, size, n)
			assert.Equal(t, digest(size), fmt.Sprintf("%x", h.Sum(nil)))

			t.Logf("download took %v", time.Since(start))
			resp, err = c.Post("http://guest/upload", "application/octet-stream", pattern.NewReader(size))
			require.NoError(t, err)
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, fmt.Sprintf("%d %s", size, digest(size)), string(body))

			es := r.guest.Endpoint().Stats()
			var txGSO, rxGSO uint64
			for _, q := range r.guest.Device().Stats() {
				txGSO += q.TxGSO
				rxGSO += q.RxGSO
				assert.Zero(t, q.Violations)
			}
			t.Logf("endpoint %+v; netfront tx gso %d rx gso %d; host %+v; guest retransmits %d host retransmits %d",
				es, txGSO, rxGSO, r.host.Stats(), r.guest.S.Stats().TCP.Retransmits.Value(), r.host.S.Stats().TCP.Retransmits.Value())
			if tc.gso {
				assert.NotZero(t, txGSO, "the guest sent no TSO frame")
				assert.NotZero(t, rxGSO, "the guest received no GSO frame")
				assert.NotZero(t, es.TxCsumOffload)
			} else {
				assert.Zero(t, txGSO)
				assert.Zero(t, rxGSO)
			}
			assert.Zero(t, r.host.Stats().Dropped, "frames the backend refused")
			assert.Zero(t, r.host.Stats().BadChecksum, "guest frames with a bad checksum")
			assert.Zero(t, es.RxBadChecksum)
			if tc.dev.NoCsumOffload {
				assert.Zero(t, es.TxCsumOffload)
			}
			var metrics strings.Builder
			require.NoError(t, r.guest.WriteMetrics(&metrics))
			assert.Contains(t, metrics.String(), `tamaxen_netfront_packets_total{queue="0",dir="tx"} `)
			assert.Contains(t, metrics.String(), "tamaxen_gnttab_refs_in_use ")
		})
	}
}

func TestDualStackListenerAndIPv6(t *testing.T) {
	t.Run("ipv6 csum offload", func(t *testing.T) { dualStack(t, netback.DefaultConfig(), false) })
	// A backend without feature-ipv6-csum-offload: IPv4 checksums are still left to it, IPv6
	// ones are computed in the guest, and the host finds every one of them right.
	nb := netback.DefaultConfig()
	nb.Features.IPv6CsumOffload = false
	t.Run("no ipv6 csum offload", func(t *testing.T) { dualStack(t, nb, true) })
}

func dualStack(t *testing.T, nb netback.Config, software bool) {
	r := newRig(t, "ip=10.0.0.2/24 ip6=fd00::2/64", &nb, netfront.Config{})
	// What TamaGo's net.Listen("tcp", ":80") asks of SocketFunc: AF_INET, since its net
	// package believes in no IPv4-mapped addresses; and what Linux's asks, AF_INET6.
	for i, family := range []int{syscall.AF_INET, syscall.AF_INET6} {
		port := 80 + i
		s, err := r.guest.Socket(ctxT(t), "tcp", family, syscall.SOCK_STREAM, &net.TCPAddr{Port: port}, nil)
		require.NoError(t, err)
		serveHTTP(t, s.(net.Listener))
		for _, to := range []string{fmt.Sprintf("10.0.0.2:%d", port), fmt.Sprintf("[fd00::2]:%d", port)} {
			resp, err := r.client(netip.MustParseAddrPort(to)).Get("http://guest/")
			require.NoError(t, err, to)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, "hello from the guest\n", string(body), to)
		}
	}
	// "tcp4" stays IPv4-only, as everywhere.
	s4, err := r.guest.Socket(ctxT(t), "tcp4", syscall.AF_INET, syscall.SOCK_STREAM, &net.TCPAddr{Port: 90}, nil)
	require.NoError(t, err)
	serveHTTP(t, s4.(net.Listener))
	resp, err := r.client(netip.MustParseAddrPort("10.0.0.2:90")).Get("http://guest/")
	require.NoError(t, err, "the tcp4 listener over IPv4")
	_ = resp.Body.Close()
	ctx, cancel := context.WithTimeout(ctxT(t), 2*time.Second)
	defer cancel()
	_, err = r.host.Dial(ctx, "tcp", netip.MustParseAddrPort("[fd00::2]:90"))
	require.Error(t, err, "a tcp4 listener answered over IPv6")

	// UDP: the stack's ListenPacket("udp", ":7") (what unikernel.ListenPacket opens) and
	// SocketFunc's "udp6" both answer IPv4 and IPv6 peers.
	pc, err := r.guest.ListenPacket("udp", ":7")
	require.NoError(t, err)
	udpEcho(t, pc)
	s6, err := r.guest.Socket(ctxT(t), "udp6", syscall.AF_INET6, syscall.SOCK_DGRAM, &net.UDPAddr{Port: 8}, nil)
	require.NoError(t, err)
	udpEcho(t, s6.(net.PacketConn))
	for _, to := range []string{"10.0.0.2:7", "[fd00::2]:7", "10.0.0.2:8", "[fd00::2]:8"} {
		c, err := r.host.Dial(ctxT(t), "udp", netip.MustParseAddrPort(to))
		require.NoError(t, err, to)
		_, err = c.Write([]byte("ping " + to))
		require.NoError(t, err, to)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
		got := make([]byte, 100)
		n, err := c.Read(got)
		require.NoError(t, err, to)
		assert.Equal(t, "ping "+to, string(got[:n]))
		_ = c.Close()
	}
	es := r.guest.Endpoint().Stats()
	assert.NotZero(t, es.TxCsumOffload, "IPv4 checksums left to the backend")
	assert.Equal(t, software, es.TxCsumSoftware > 0, "IPv6 checksums computed in the guest: %+v", es)
	assert.Zero(t, r.host.Stats().BadChecksum)
	var ll bool
	for _, a := range r.guest.Addrs() {
		ll = ll || a.Addr().IsLinkLocalUnicast()
	}
	assert.True(t, ll, "no IPv6 link-local address: %v", r.guest.Addrs())
}

// udpEcho echoes every datagram pc receives until the test ends.
func udpEcho(t *testing.T, pc net.PacketConn) {
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
	t.Cleanup(func() { _ = pc.Close() })
}

func TestUDPEchoAndDial(t *testing.T) {
	r := newRig(t, "ip=10.0.0.2/24 gw=10.0.0.1", nil, netfront.Config{})
	pc, err := r.guest.ListenPacket("udp", ":7")
	require.NoError(t, err)
	udpEcho(t, pc)
	c, err := r.host.Dial(ctxT(t), "udp", netip.MustParseAddrPort("10.0.0.2:7"))
	require.NoError(t, err)
	defer c.Close()
	for _, size := range []int{1, 100, 1472, 1473, 8000, 65000} {
		msg := make([]byte, size)
		_, _ = io.ReadFull(pattern.NewReader(int64(size)), msg)
		_, err := c.Write(msg)
		require.NoError(t, err)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
		got := make([]byte, 70000)
		n, err := c.Read(got)
		require.NoError(t, err, "size %d", size)
		assert.Equal(t, msg, got[:n], "size %d", size)
	}

	// And a TCP connection opened by the guest to the host.
	hl, err := r.host.Listen(9000)
	require.NoError(t, err)
	defer hl.Close()
	go func() {
		c, err := hl.Accept()
		if err == nil {
			_, _ = c.Write([]byte("from the host"))
			_ = c.Close()
		}
	}()
	gc, err := r.guest.DialContext(ctxT(t), "tcp", "10.0.0.1:9000")
	require.NoError(t, err)
	b, err := io.ReadAll(gc)
	require.NoError(t, err)
	assert.Equal(t, "from the host", string(b))
	_ = gc.Close()
}
