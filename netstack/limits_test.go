package netstack

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/internal/csum"
	"github.com/tamaxen/tamaxen/netfront"
)

// TestLimitsFor: the limits of the examples' heaps (on Xen at memory = 16, 32 and 64, see
// unikernel's heapCapacity; hosted), and at every heap size from 4 MiB up the worst case they
// allow (every connection open or lingering, and those queued on two listeners, with both
// buffers full, the fragment budget, and two UDP sockets' full queues) fits the quarter of
// the heap the network may hold.
func TestLimitsFor(t *testing.T) {
	for _, tc := range []struct {
		name              string
		heap              float64 // MiB
		conns, backlog    int
		tcpBuf, fragBytes int // KiB
	}{
		{"echo at 16", 4, 5, 4, 22, 64},
		{"httpd at 32", 8, 8, 4, 32, 128},
		{"echo at 32", 12, 9, 4, 39, 192},
		{"httpd at 64", 36, 17, 4, 67, 576},
		{"hosted", 512, 64, 16, 256, 4096},
	} {
		l := LimitsFor(uint64(tc.heap * (1 << 20)))
		assert.Equal(t, tc.conns, l.Conns, tc.name)
		assert.Equal(t, tc.backlog, l.Backlog, tc.name)
		assert.Equal(t, tc.tcpBuf, l.TCPBuffer>>10, tc.name)
		assert.Equal(t, tc.fragBytes, l.FragBytes>>10, tc.name)
	}
	for mib := uint64(4); mib <= 8192; mib += mib / 4 {
		l := LimitsFor(mib << 20)
		worst := uint64((2*l.Conns+2*l.Backlog)*2*l.TCPBuffer + l.FragBytes + 2*l.UDPQueue*udpCost)
		assert.LessOrEqual(t, worst, l.Memory/4, "%d MiB: %+v", mib, l)
		assert.GreaterOrEqual(t, l.Backlog, 4)
		assert.GreaterOrEqual(t, l.Conns, 4)
	}
	assert.Equal(t, LimitsFor(DefaultMemory), LimitsFor(0))
}

func TestFragBudgetWindows(t *testing.T) {
	b := fragBudget{limit: 10 << 10}
	t0 := time.Unix(1000, 0)
	n := 0
	for b.admit(fragCost(1500), t0) {
		n++
	}
	assert.Equal(t, (10<<10)/fragCost(1500), n, "admitted up to the limit")
	assert.False(t, b.admit(fragCost(1500), t0.Add(ReassembleWindow-time.Second)), "still within the window")
	// The next window still counts the previous one: what it admitted may still be held.
	assert.False(t, b.admit(fragCost(1500), t0.Add(ReassembleWindow)), "the previous window still counts")
	assert.True(t, b.admit(fragCost(1500), t0.Add(2*ReassembleWindow)), "two windows on, all of it is gone")
	assert.True(t, b.admit(fragCost(1500), t0.Add(-time.Hour)), "a clock going back starts afresh")
}

// TestFragmentFloodBounded: thousands of never-completed fragments from many datagrams stop
// being admitted at the budget (and are counted), and a complete fragmented datagram is still
// reassembled until then.
func TestFragmentFloodBounded(t *testing.T) {
	r := newRxRig(t, nil)
	r.e.frags.limit = 256 << 10
	for i := range 5000 {
		f := ipv4Frames(17, udpSeg(peer4[:], guest4[:], string(make([]byte, 1400)), false), 1024, uint16(i))[0]
		f[14+15] = byte(i >> 8) // many sources: many reassemblies
		binary.BigEndian.PutUint16(f[14+10:], 0)
		binary.BigEndian.PutUint16(f[14+10:], ^csum.Sum(f[14:34], 0))
		r.e.Deliver(f, netfront.RxMeta{})
	}
	require.Zero(t, r.e.Stats().RxBadChecksum)
	dropped := r.e.Stats().RxFragDropped
	assert.Greater(t, dropped, uint64(4000), "fragments past the budget are dropped and counted")
	admitted := 5000 - dropped
	assert.LessOrEqual(t, admitted*uint64(fragCost(1062)), uint64(256<<10))

	r2 := newRxRig(t, nil)
	for _, f := range ipv4Frames(17, udpSeg(peer4[:], guest4[:], "whole again", false), 16, 9) {
		r2.e.Deliver(f, netfront.RxMeta{})
	}
	got, ok := r2.readUDP()
	require.True(t, ok)
	assert.Equal(t, "whole again", string(got))
}
