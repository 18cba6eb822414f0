// End-to-end traffic through the simulated Xen: sizes, offloads, queues, event channels,
// negotiation, teardown.

package netfront

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
)

// roundTrip sends one frame of every size in sizes through an echoing backend, at most window
// in flight, and checks that each comes back intact and in order.
func roundTrip(t *testing.T, r *rig, cfg Config, sizes []int) *Device {
	const window = 32
	credit := make(chan struct{}, window)
	type rcv struct {
		n   int
		bad error
	}
	back := make(chan rcv, window)
	cfg.Receive = func(b []byte, m RxMeta) {
		var err error
		want := make([]byte, len(b))
		fill(want, 3)
		if !bytes.Equal(b, want) {
			err = fmt.Errorf("frame of %d bytes corrupted", len(b))
		}
		back <- rcv{len(b), err}
		<-credit
	}
	r.echo()
	dev := r.open(t, cfg)
	ctx := hangCtx(t)
	go func() {
		buf := make([]byte, netif.XEN_NETIF_MAX_TX_SIZE)
		for _, n := range sizes {
			credit <- struct{}{}
			f := buf[:n]
			fill(f, 3)
			if err := dev.Send(ctx, f, TxMeta{}); err != nil {
				back <- rcv{n, err}
				return
			}
		}
	}()
	for _, n := range sizes {
		select {
		case g := <-back:
			require.NoError(t, g.bad)
			require.Equal(t, n, g.n)
		case <-ctx.Done():
			t.Fatalf("frame of %d bytes did not come back", n)
		}
	}
	return dev
}

func sizeRange(from, to, step int) []int {
	var s []int
	for n := from; n <= to; n += step {
		s = append(s, n)
	}
	if s[len(s)-1] != to {
		s = append(s, to)
	}
	return s
}

func TestSimRoundTripEverySizeSG(t *testing.T) {
	step := 1
	if testing.Short() || raceEnabled {
		step = 61
	}
	r := newRig(t, rigOpts{})
	before := r.baseline(t).goroutines
	dev := roundTrip(t, r, Config{}, sizeRange(netif.ETH_HLEN, netif.XEN_NETIF_MAX_TX_SIZE, step))
	assert.True(t, dev.Features().SG)
	s := sumStats(dev.Stats())
	assert.Zero(t, s.Violations)
	assert.Zero(t, s.RxDropped+s.RxErrors)
	require.NoError(t, dev.Close())
	r.checkClean(t, before)
}

func TestSimRoundTripNoSG(t *testing.T) {
	for _, side := range []string{"frontend", "backend"} {
		t.Run(side, func(t *testing.T) {
			bcfg := netback.DefaultConfig()
			cfg := Config{}
			if side == "frontend" {
				cfg.NoSG = true
			} else {
				bcfg.Features.SG = false
			}
			r := newRig(t, rigOpts{backend: &bcfg})
			dev := roundTrip(t, r, cfg, sizeRange(netif.ETH_HLEN, 4096, 1))
			assert.False(t, dev.Features().SG)
			assert.False(t, dev.Features().GSOTCPv4, "GSO needs SG")
			ctx := hangCtx(t)
			for _, n := range []int{4097, 9000, 65535} {
				assert.ErrorIs(t, dev.Send(ctx, frame(n, 0), TxMeta{}), ErrTooBig)
				// RX: the backend does not hand a frame larger than a page to a frontend
				// without feature-sg.
				assert.ErrorIs(t, r.be.Inject(netback.Frame{Data: frame(n, 0)}), netback.ErrTooBig)
			}
			assert.ErrorIs(t, dev.Send(ctx, frame(13, 0), TxMeta{}), ErrTooSmall)
			assert.Zero(t, sumStats(dev.Stats()).Violations)
		})
	}
}

func TestSimGSO(t *testing.T) {
	r := newRig(t, rigOpts{})
	fn, rx := collector(8)
	txd := make(chan netback.Frame, 8)
	r.be.SetDeliver(func(f netback.Frame) { f.Data = append([]byte(nil), f.Data...); txd <- f })
	dev := r.open(t, Config{Receive: fn})
	require.True(t, dev.Features().GSOTCPv4)
	require.True(t, dev.Features().GSOTCPv6)
	ctx := hangCtx(t)

	for _, tc := range []struct {
		typ  uint8
		size uint16
		n    int
	}{{GSOTCPv4, 1448, 65535}, {GSOTCPv6, 1428, 30000}, {GSOTCPv4, 536, 4097}} {
		// TX: the extra-info slot reaches the backend as the frame's GSO metadata.
		f := frame(tc.n, 1)
		require.NoError(t, dev.Send(ctx, f, TxMeta{GSOType: tc.typ, GSOSize: tc.size, CsumBlank: true}))
		var d netback.Frame
		select {
		case d = <-txd:
		case <-ctx.Done():
			t.Fatal("no TX frame")
		}
		assert.Equal(t, f, d.Data)
		assert.Equal(t, tc.typ, d.GSOType)
		assert.Equal(t, tc.size, d.GSOSize)
		assert.True(t, d.CsumBlank)

		// RX: the GSO extra follows the first slot.
		require.NoError(t, r.be.Inject(netback.Frame{Data: f, GSOType: tc.typ, GSOSize: tc.size, CsumBlank: true}))
		g := recv(t, rx)
		assert.Equal(t, f, g.data)
		assert.Equal(t, tc.typ, g.meta.GSOType)
		assert.Equal(t, tc.size, g.meta.GSOSize)
		assert.True(t, g.meta.CsumBlank)
	}
	s := sumStats(dev.Stats())
	assert.Equal(t, uint64(3), s.TxGSO)
	assert.Equal(t, uint64(3), s.RxGSO)

	// A GSO type the frontend did not negotiate is not sent to it.
	r2 := newRig(t, rigOpts{})
	dev2 := r2.open(t, Config{NoGSO: true})
	assert.False(t, dev2.Features().GSOTCPv4)
	assert.ErrorIs(t, dev2.Send(ctx, frame(9000, 0), TxMeta{GSOType: GSOTCPv4, GSOSize: 1448}), ErrTooBig)
	assert.ErrorIs(t, r2.be.Inject(netback.Frame{Data: frame(9000, 0), GSOType: GSOTCPv4, GSOSize: 1448}), netback.ErrNotNegotiated)
}

func TestSimChecksumFlags(t *testing.T) {
	r := newRig(t, rigOpts{})
	fn, rx := collector(8)
	txd := make(chan netback.Frame, 8)
	r.be.SetDeliver(func(f netback.Frame) { f.Data = nil; txd <- f })
	dev := r.open(t, Config{Receive: fn})
	ctx := hangCtx(t)
	for _, tc := range []struct{ blank, valid, wantBlank, wantValid bool }{
		{false, false, false, false},
		{false, true, false, true},
		{true, false, true, true}, // csum_blank implies data_validated, both ways, as Linux does
		{true, true, true, true},
	} {
		name := fmt.Sprintf("blank=%v,valid=%v", tc.blank, tc.valid)
		require.NoError(t, dev.Send(ctx, frame(100, 0), TxMeta{CsumBlank: tc.blank, DataValidated: tc.valid}))
		d := <-txd
		assert.Equal(t, tc.wantBlank, d.CsumBlank, "tx "+name)
		assert.Equal(t, tc.wantValid, d.DataValidated, "tx "+name)

		// RX flags swap bits 0 and 1 relative to TX: a frontend reading them with the TX
		// names would see csum_blank as data_validated.
		require.NoError(t, r.be.Inject(netback.Frame{Data: frame(100, 0), CsumBlank: tc.blank, DataValidated: tc.valid}))
		g := recv(t, rx)
		assert.Equal(t, tc.wantBlank, g.meta.CsumBlank, "rx "+name)
		assert.Equal(t, tc.wantValid, g.meta.DataValidated, "rx "+name)
	}

	// feature-no-csum-offload: the backend sends complete checksums.
	r2 := newRig(t, rigOpts{})
	fn2, rx2 := collector(8)
	dev2 := r2.open(t, Config{NoCsumOffload: true, Receive: fn2})
	assert.False(t, dev2.Features().CsumOffload)
	require.NoError(t, r2.be.Inject(netback.Frame{Data: udp4(100, 1), CsumBlank: true}))
	g := recv(t, rx2)
	assert.False(t, g.meta.CsumBlank)
}

func TestSimMultiQueue(t *testing.T) {
	for _, tc := range []struct {
		queues int
		split  bool
	}{{2, true}, {4, true}, {2, false}, {4, false}, {1, true}, {1, false}} {
		t.Run(fmt.Sprintf("queues=%d,split=%v", tc.queues, tc.split), func(t *testing.T) {
			bcfg := netback.DefaultConfig()
			bcfg.RxQueueLen = 256
			r := newRig(t, rigOpts{backend: &bcfg})
			fn, rx := collector(1024)
			before := r.baseline(t).goroutines
			dev := r.open(t, Config{Queues: tc.queues, NoSplitEventChannels: !tc.split, Receive: fn})
			require.Equal(t, tc.queues, dev.Features().Queues)
			require.Equal(t, tc.queues, r.be.Queues())
			require.Equal(t, tc.split, dev.Features().SplitEventChannels)
			ctx := hangCtx(t)
			// TX: 64 flows spread over the queues by their ports.
			for p := range 64 {
				require.NoError(t, dev.Send(ctx, udp4(200+p, uint16(1000+p)), TxMeta{}))
			}
			// RX: frames on every queue, by flow and by choice.
			for p := range 64 {
				require.NoError(t, r.be.Inject(netback.Frame{Data: udp4(300, uint16(2000+p))}))
			}
			for q := range tc.queues {
				require.NoError(t, r.be.InjectQueue(q, netback.Frame{Data: udp4(400, 1)}))
			}
			seen := make([]int, tc.queues)
			for range 64 + tc.queues {
				g := recv(t, rx)
				seen[g.meta.Queue]++
			}
			require.Eventually(t, func() bool {
				var n uint64
				for _, q := range r.be.Stats().Queues {
					n += q.TxPackets
				}
				return n == 64
			}, hangDeadline, tick)
			for q, s := range dev.Stats() {
				assert.NotZero(t, s.TxPackets, "tx on queue %d", q)
				assert.NotZero(t, s.RxPackets, "rx on queue %d", q)
				assert.NotZero(t, seen[q], "rx on queue %d", q)
				assert.NotZero(t, r.be.Stats().Queues[q].TxPackets, "backend tx on queue %d", q)
			}
			require.NoError(t, dev.Close())
			r.checkClean(t, before)
		})
	}
}

func TestSimFeatureSubsets(t *testing.T) {
	for _, tc := range []struct {
		name  string
		f     netback.Features
		maxQ  int
		check func(t *testing.T, f Features)
	}{
		{"rx-copy only", netback.Features{RxCopy: true}, 1, func(t *testing.T, f Features) {
			assert.Equal(t, Features{RxCopy: true, CsumOffload: true, Queues: 1}, f)
		}},
		{"no SG", func() netback.Features { f := netback.AllFeatures(); f.SG = false; return f }(), 4, func(t *testing.T, f Features) {
			assert.False(t, f.SG)
			assert.False(t, f.GSOTCPv4 || f.GSOTCPv6)
			assert.Equal(t, 4, f.Queues)
		}},
		{"no GSO", func() netback.Features {
			f := netback.AllFeatures()
			f.GSOTCPv4, f.GSOTCPv6 = false, false
			return f
		}(), 4, func(t *testing.T, f Features) {
			assert.True(t, f.SG)
			assert.False(t, f.GSOTCPv4 || f.GSOTCPv6)
		}},
		{"single queue", netback.AllFeatures(), 1, func(t *testing.T, f Features) {
			assert.Equal(t, 1, f.Queues)
			assert.True(t, f.SG && f.GSOTCPv4 && f.SplitEventChannels)
		}},
		{"no split event channels", func() netback.Features {
			f := netback.AllFeatures()
			f.SplitEventChannels = false
			return f
		}(), 2, func(t *testing.T, f Features) {
			assert.False(t, f.SplitEventChannels)
			assert.Equal(t, 2, f.Queues)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOpts{backend: &netback.Config{Features: tc.f, MaxQueues: tc.maxQ}})
			dev := roundTrip(t, r, Config{Queues: 4}, []int{14, 60, 1514, 4096})
			tc.check(t, dev.Features())
			assert.Zero(t, sumStats(dev.Stats()).Violations)
		})
	}
}

func TestSimNoRxCopy(t *testing.T) {
	f := netback.AllFeatures()
	f.RxCopy = false
	r := newRig(t, rigOpts{backend: &netback.Config{Features: f, MaxQueues: 4}})
	before := r.baseline(t).goroutines
	_, err := Open(hangCtx(t), r.plat, Config{})
	require.ErrorIs(t, err, ErrNoRxCopy)
	r.checkClean(t, before)
}

func TestSimReconnect(t *testing.T) {
	r := newRig(t, rigOpts{})
	before := r.baseline(t).goroutines
	for i := range 3 {
		dev := roundTrip(t, r, Config{Queues: 1 + i}, []int{60, 1514, 9000})
		require.NoError(t, dev.Close())
		r.checkClean(t, before)
	}
}

func TestSimSendAllocs(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.be.SetDeliver(func(netback.Frame) {})
	dev := r.open(t, Config{})
	ctx := context.Background()
	f := frame(1500, 0)
	for range 1000 { // steady state: every buffer and id used once, every slice grown
		require.NoError(t, dev.Send(ctx, f, TxMeta{}))
	}
	allocs := testing.AllocsPerRun(2000, func() {
		if err := dev.Send(ctx, f, TxMeta{}); err != nil {
			panic(err)
		}
	})
	// AllocsPerRun counts the whole process: netfront's Send, the simulated netback's TX path
	// and the simulated hypervisor's grant copies together allocate nothing.
	assert.Zero(t, allocs, "allocations per Send, whole process")
}

// SendBuffers gathers a frame from pieces that straddle page boundaries in every way.
func TestSimSendBuffers(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.echo()
	rx, ch := collector(16)
	dev := r.open(t, Config{Receive: rx})
	for _, cuts := range [][]int{{14}, {1, 13, 4096}, {4095, 1, 1}, {14, 4082, 4096, 7}, {100, 0, 0, 9000}} {
		n := 0
		for _, c := range cuts {
			n += c
		}
		n += 333
		want := frame(n, byte(len(cuts)))
		var parts [][]byte
		at := 0
		for _, c := range cuts {
			parts = append(parts, want[at:at+c])
			at += c
		}
		parts = append(parts, want[at:])
		keep := append([][]byte(nil), parts...)
		require.NoError(t, dev.SendBuffers(hangCtx(t), parts, TxMeta{}), "cuts %v", cuts)
		assert.Equal(t, keep, parts, "SendBuffers must not modify its argument")
		assert.Equal(t, want, recv(t, ch).data, "cuts %v", cuts)
	}
}

// Config.TxBuffers below what the largest frame needs is raised: a 64 KiB TSO frame always
// fits, however few TX pages were asked for.
func TestSimTxBuffersFloor(t *testing.T) {
	for _, n := range []int{1, 8, MinTxBuffers - 1, MinTxBuffers, MinTxBuffers + 1, 0} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r := newRig(t, rigOpts{})
			txd := make(chan int, 4)
			r.be.SetDeliver(func(f netback.Frame) { txd <- len(f.Data) })
			dev := r.open(t, Config{TxBuffers: n})
			require.True(t, dev.Features().GSOTCPv4)
			ctx := hangCtx(t)
			for range 3 { // again once the first one's pages are back
				f := frame(netif.XEN_NETIF_MAX_TX_SIZE, 1)
				require.NoError(t, dev.Send(ctx, f, TxMeta{GSOType: GSOTCPv4, GSOSize: 1448, CsumBlank: true}))
				select {
				case got := <-txd:
					assert.Equal(t, len(f), got)
				case <-ctx.Done():
					t.Fatal("no TX frame")
				}
			}
			assert.Zero(t, sumStats(dev.Stats()).TxDropped)
		})
	}
}

// fragments builds the fragments of one UDP datagram (IPv4, or IPv6 with a fragment header),
// each carrying 8*k payload bytes of a pattern that differs from fragment to fragment: only
// the first has the UDP header.
func fragments(v6 bool, n int, seed byte) [][]byte {
	var out [][]byte
	for i := range n {
		var f []byte
		if !v6 {
			f = frame(14+20+64, seed+byte(i))
			f[12], f[13] = 0x08, 0x00
			ip := f[14:]
			copy(ip, []byte{0x45, 0, 0, 84, 0x12, 0x34})
			fl := uint16(i * 8)
			if i < n-1 {
				fl |= 0x2000
			}
			binary.BigEndian.PutUint16(ip[6:], fl)
			ip[8], ip[9] = 64, 17
			copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
			copy(ip[20:], udpOrPayload(i))
		} else {
			f = frame(14+40+8+64, seed+byte(i))
			f[12], f[13] = 0x86, 0xdd
			ip := f[14:]
			copy(ip, []byte{0x60, 0, 0, 0, 0, 72, 44, 64})
			copy(ip[8:], []byte{0xfd, 0, 15: 1})
			copy(ip[24:], []byte{0xfd, 0, 15: 2})
			fh := ip[40:]
			fh[0], fh[1] = 17, 0
			off := uint16(i*8) << 3
			if i < n-1 {
				off |= 1
			}
			binary.BigEndian.PutUint16(fh[2:], off)
			binary.BigEndian.PutUint32(fh[4:], 0xcafe)
			copy(fh[8:], udpOrPayload(i))
		}
		out = append(out, f)
	}
	return out
}

// udpOrPayload is what follows the IP headers of fragment i: the UDP ports in the first, and
// where the first has them, payload that differs from fragment to fragment in the others.
func udpOrPayload(i int) []byte {
	if i == 0 {
		return []byte{0x12, 0x34, 0, 7}
	}
	return []byte{byte(i), byte(i * 3), byte(i * 5), byte(i * 7)}
}

// The fragments of one datagram stay on one queue, both ways: their payload, which sits
// where a first fragment has its ports, must not spread them.
func TestSimMultiQueueFragments(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		t.Run(map[bool]string{false: "ipv4", true: "ipv6"}[v6], func(t *testing.T) {
			const queues, n = 4, 16
			bcfg := netback.DefaultConfig()
			bcfg.RxQueueLen = 256
			r := newRig(t, rigOpts{backend: &bcfg})
			fn, rx := collector(64)
			r.be.SetDeliver(func(netback.Frame) {})
			dev := r.open(t, Config{Queues: queues, Receive: fn})
			require.Equal(t, queues, dev.Features().Queues)
			ctx := hangCtx(t)
			frags := fragments(v6, n, 0)
			// RX: the backend picks the queue.
			for _, f := range frags {
				require.NoError(t, r.be.Inject(netback.Frame{Data: f}))
			}
			seen := map[int]int{}
			for range n {
				seen[recv(t, rx).meta.Queue]++
			}
			assert.Len(t, seen, 1, "rx fragments per queue: %v", seen)
			// TX: the frontend picks it.
			for _, f := range frags {
				require.NoError(t, dev.Send(ctx, f, TxMeta{}))
			}
			used := 0
			for _, s := range dev.Stats() {
				if s.TxPackets > 0 {
					used++
					assert.Equal(t, uint64(n), s.TxPackets)
				}
			}
			assert.Equal(t, 1, used, "tx fragments spread over %d queues", used)
		})
	}
}
