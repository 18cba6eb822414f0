package netstack_test

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/internal/csum"
	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/netstack"
)

// frame4 is an Ethernet/IPv4 frame to the guest (mac, 10.0.0.2) from src carrying transport
// segment seg of protocol proto, whose checksum (at offset field of seg) it fills in.
func frame4(mac net.HardwareAddr, src [4]byte, proto uint8, seg []byte, field int) []byte {
	f := make([]byte, 14+20, 14+20+len(seg))
	copy(f, mac)
	copy(f[6:], []byte{0, 0x16, 0x3e, 0x77, src[2], src[3]})
	f[12], f[13] = 0x08, 0x00
	ip := f[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(seg)))
	ip[8], ip[9] = 64, proto
	copy(ip[12:], src[:])
	copy(ip[16:], []byte{10, 0, 0, 2})
	binary.BigEndian.PutUint16(ip[10:], ^csum.Sum(ip, 0))
	f = append(f, seg...)
	binary.BigEndian.PutUint16(f[34+field:], csum.Pseudo(f))
	csum.Complete(f)
	return f
}

// synFrame is a TCP SYN to the guest's port 80 from src:sport.
func synFrame(mac net.HardwareAddr, src [4]byte, sport uint16) []byte {
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], 80)
	binary.BigEndian.PutUint32(tcp[4:], uint32(sport)*7919)
	tcp[12], tcp[13] = 5<<4, 0x02
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	return frame4(mac, src, 6, tcp, 16)
}

// liveHeap is the heap's live bytes after a collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// A SYN flood from thousands of addresses that never answer, at a guest whose heap can grow to
// 9 MiB (httpd's at memory = 32 on Xen): half-open
// connections stay within the backlog, the rest get SYN cookies, the heap barely moves, and
// the listener still serves a real client afterwards.
func TestSYNFloodBounded(t *testing.T) {
	// The sources are off-link, behind the host's gateway address, so the guest's answers
	// leave at once (to the host stack, which drops them) instead of waiting on ARP.
	r := newRigMem(t, "ip=10.0.0.2/24 gw=10.0.0.1", nil, netfront.Config{}, 9<<20)
	l, err := r.guest.Listen("tcp", ":80")
	require.NoError(t, err)
	serveHTTP(t, l)
	mac := r.guest.Device().MAC()
	before := liveHeap()
	const syns = 3000
	for i := range syns {
		src := [4]byte{172, 16, byte(i / 250), byte(1 + i%250)}
		r.guest.Endpoint().Deliver(synFrame(mac, src, uint16(10000+i)), netfront.RxMeta{})
	}
	// TCP takes segments in its own goroutines: wait for it to have handled them all, each
	// SYN either with a cookie or as one of the few half-open connections the backlog allows.
	backlog := uint64(r.guest.Limits().Backlog)
	st := r.guest.S.Stats().TCP
	assert.Eventually(t, func() bool {
		return st.ListenOverflowSynCookieSent.Value()+backlog >= syns
	}, 30*time.Second, 10*time.Millisecond, "SYN cookies past the backlog: %d of %d SYNs, %d failed",
		st.ListenOverflowSynCookieSent.Value(), syns, st.FailedConnectionAttempts.Value())
	assert.Positive(t, readMetrics(t, r.guest).sum("tamaxen_tcp_syn_cookies_total"))
	// Half-open connections are endpoints of their own: no more than the backlog allows.
	assert.LessOrEqual(t, len(r.guest.S.RegisteredEndpoints()), int(backlog)+1)
	grew := liveHeap() - before
	assert.Less(t, grew, int64(4<<20), "the heap grew by %d bytes for %d SYNs", grew, syns)

	resp, err := r.client(netip.MustParseAddrPort("10.0.0.2:80")).Get("http://guest/")
	require.NoError(t, err, "a real client after the flood")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "hello from the guest\n", string(body))
}

// More clients than Limits.Conns hold connections open: the extra ones are reset on accept,
// counted, and never reach the program; closing the held ones makes room again.
func TestConnectionLimit(t *testing.T) {
	r := newRigMem(t, "ip=10.0.0.2/24", nil, netfront.Config{}, 9<<20)
	limit := r.guest.Limits().Conns
	l, err := r.guest.Listen("tcp", ":7")
	require.NoError(t, err)
	accepted := make(chan net.Conn, 4*limit)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() { _ = l.Close() })
	to := netip.MustParseAddrPort("10.0.0.2:7")
	var clients []net.Conn
	for i := range limit + 5 {
		c, err := r.host.Dial(ctxT(t), "tcp", to)
		if i >= limit && err != nil {
			// The handshake completes before the guest accepts, but the reset of a connection
			// past the limit may come before the dial has seen it established.
			assert.ErrorContains(t, err, "reset", "connection %d", i)
			continue
		}
		require.NoError(t, err, "connection %d", i)
		clients = append(clients, c)
	}
	var held []net.Conn
	for range limit {
		select {
		case c := <-accepted:
			held = append(held, c)
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d of %d connections accepted", len(held), limit)
		}
	}
	require.Eventually(t, func() bool {
		return readMetrics(t, r.guest).sum("tamaxen_tcp_refused_total") == 5
	}, 30*time.Second, 10*time.Millisecond, "the 5 extra connections are reset")
	assert.Empty(t, accepted, "a connection past the limit reached the program")
	assert.EqualValues(t, limit, readMetrics(t, r.guest).sum("tamaxen_tcp_accepted_open"))

	for _, c := range held {
		require.NoError(t, c.Close())
	}
	c, err := r.host.Dial(ctxT(t), "tcp", to)
	require.NoError(t, err)
	defer c.Close()
	select {
	case g := <-accepted:
		_ = g.Close()
	case <-time.After(30 * time.Second):
		t.Fatal("no room after the held connections closed")
	}
	for _, c := range clients {
		_ = c.Close()
	}
}

// Connections the guest closes first end in TIME-WAIT, which holds no buffers: a client making
// one short connection after another is never refused, however many are in TIME-WAIT.
func TestConnectionLimitIgnoresTimeWait(t *testing.T) {
	r := newRigMem(t, "ip=10.0.0.2/24", nil, netfront.Config{}, 9<<20)
	limit := r.guest.Limits().Conns
	l, err := r.guest.Listen("tcp", ":7")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("bye"))
			_ = c.Close() // the guest closes first
		}
	}()
	to := netip.MustParseAddrPort("10.0.0.2:7")
	for i := range 6 * limit {
		c, err := r.host.Dial(ctxT(t), "tcp", to)
		require.NoError(t, err, "connection %d", i)
		require.NoError(t, c.SetReadDeadline(time.Now().Add(30*time.Second)))
		b, err := io.ReadAll(c)
		require.NoError(t, err, "connection %d", i)
		require.Equal(t, "bye", string(b), "connection %d", i)
		_ = c.Close()
	}
	m := readMetrics(t, r.guest)
	assert.Zero(t, m.sum("tamaxen_tcp_refused_total"))
	assert.Greater(t, m.sum("tamaxen_tcp_connected"), float64(limit), "TIME-WAIT endpoints outnumber the limit")
}

// Connections the guest closed with data a peer will not take still hold their buffers: no
// more than Limits.Conns of them linger, and new connections are refused meanwhile.
func TestConnectionLimitCountsLingering(t *testing.T) {
	r := newRigMem(t, "ip=10.0.0.2/24", nil, netfront.Config{}, 9<<20)
	limit := r.guest.Limits().Conns
	l, err := r.guest.Listen("tcp", ":7")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	big := make([]byte, 4*r.guest.Limits().TCPBuffer)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			// Fill the send buffer towards a peer that does not read, then close.
			_ = c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
			_, _ = c.Write(big)
			_ = c.Close()
		}
	}()
	to := netip.MustParseAddrPort("10.0.0.2:7")
	var clients []net.Conn
	t.Cleanup(func() {
		for _, c := range clients {
			_ = c.Close()
		}
	})
	for range 3 * limit {
		c, err := r.host.Dial(ctxT(t), "tcp", to)
		if err == nil {
			clients = append(clients, c) // never read
		}
		time.Sleep(250 * time.Millisecond) // the guest's write gives up and closes
	}
	m := readMetrics(t, r.guest)
	assert.LessOrEqual(t, m.sum("tamaxen_tcp_accepted_lingering"), float64(2*limit))
	assert.Positive(t, m.sum("tamaxen_tcp_refused_total"), "lingering connections hold places")
}

// udpFrame is an empty UDP datagram to the guest's port 7 from 10.0.0.1:sport.
func udpFrame(mac net.HardwareAddr, sport uint16) []byte {
	u := make([]byte, 8)
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], 7)
	binary.BigEndian.PutUint16(u[4:], 8)
	return frame4(mac, [4]byte{10, 0, 0, 1}, 17, u, 6)
}

// A flood of empty datagrams at a socket whose reader has stalled: gVisor charges only the
// payload, so without the stack's own bound they would queue without end. At most
// Limits.UDPQueue wait, the rest are dropped and counted, the heap barely moves, and the
// socket reads on afterwards.
func TestUDPFloodBounded(t *testing.T) {
	r := newRigMem(t, "ip=10.0.0.2/24", nil, netfront.Config{}, 9<<20)
	pc, err := r.guest.ListenPacket("udp", ":7")
	require.NoError(t, err)
	defer pc.Close()
	limit := r.guest.Limits().UDPQueue
	mac := r.guest.Device().MAC()
	before := liveHeap()
	const n = 20000
	for i := range n {
		r.guest.Endpoint().Deliver(udpFrame(mac, uint16(1024+i%50000)), netfront.RxMeta{})
	}
	grew := liveHeap() - before
	assert.Less(t, grew, int64(2<<20), "the heap grew by %d bytes for %d empty datagrams", grew, n)
	m := readMetrics(t, r.guest)
	assert.EqualValues(t, n-limit, m.sum("tamaxen_udp_queue_drops_total"), "past the queue's %d datagrams", limit)

	// The reader wakes up: it finds the first datagrams, then new ones get through again.
	got := 0
	buf := make([]byte, 100)
	for {
		require.NoError(t, pc.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
		if _, _, err := pc.ReadFrom(buf); err != nil {
			break
		}
		got++
	}
	assert.Equal(t, limit, got)
	r.guest.Endpoint().Deliver(udpFrame(mac, 999), netfront.RxMeta{})
	require.NoError(t, pc.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, from, err := pc.ReadFrom(buf)
	require.NoError(t, err)
	assert.Equal(t, 999, from.(*net.UDPAddr).Port)
}

// The first Limits.FastConns accepted connections get FastBuffer, enough window for a bulk
// transfer; the others TCPBuffer; a fast one closed and gone makes room for another.
func TestFastConnections(t *testing.T) {
	r := newRigMem(t, "ip=10.0.0.2/24", nil, netfront.Config{}, 36<<20)
	lim := r.guest.Limits()
	require.Greater(t, lim.FastBuffer, lim.TCPBuffer)
	l, err := r.guest.Listen("tcp", ":7")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	to := netip.MustParseAddrPort("10.0.0.2:7")
	var conns, hosts []net.Conn
	for i := range lim.FastConns + 2 {
		c, err := r.host.Dial(ctxT(t), "tcp", to)
		require.NoError(t, err)
		defer c.Close()
		hosts = append(hosts, c)
		g, err := l.Accept()
		require.NoError(t, err)
		conns = append(conns, g)
		snd, rcv := netstack.ConnBuffers(g)
		want := int64(lim.TCPBuffer)
		if i < lim.FastConns {
			want = int64(lim.FastBuffer)
		}
		assert.Equal(t, want, snd, "connection %d's send buffer", i)
		assert.Equal(t, want, rcv, "connection %d's receive buffer", i)
	}
	// The first closes, both ends: once the guest's endpoint is past FIN-WAIT (in TIME-WAIT,
	// which holds no buffers), the next connection is fast again.
	require.NoError(t, conns[0].Close())
	require.NoError(t, hosts[0].Close())
	require.Eventually(t, func() bool {
		c, err := r.host.Dial(ctxT(t), "tcp", to)
		if err != nil {
			return false
		}
		defer c.Close()
		g, err := l.Accept()
		if err != nil {
			return false
		}
		defer g.Close()
		snd, _ := netstack.ConnBuffers(g)
		return snd == int64(lim.FastBuffer)
	}, 30*time.Second, 100*time.Millisecond, "no fast connection again after one closed")
	for _, g := range conns[1:] {
		_ = g.Close()
	}
}
