package netstack

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestLimitsFor: the limits of the examples' heaps (on Xen at memory = 16, 32 and 64, see
// unikernel's heapCapacity; hosted), and at every heap size from 4 MiB up the worst case they
// allow (every connection open or lingering, the fast ones among them, and those queued on two
// listeners, with both buffers full, the fragment budget, two UDP sockets' full queues and a
// full outgoing queue)
// fits the quarter of the heap the network may hold.
func TestLimitsFor(t *testing.T) {
	for _, tc := range []struct {
		name              string
		heap              float64 // MiB
		conns, backlog    int
		tcpBuf, fragBytes int // KiB
	}{
		{"echo at 16", 4, 4, 4, 22, 64},
		{"httpd at 32", 8, 6, 4, 32, 128},
		{"echo at 32", 12, 7, 4, 39, 192},
		{"httpd at 64", 36, 12, 4, 67, 576},
		{"hosted", 512, 48, 12, 256, 4096},
	} {
		l := LimitsFor(uint64(tc.heap * (1 << 20)))
		assert.Equal(t, tc.conns, l.Conns, tc.name)
		assert.Equal(t, tc.backlog, l.Backlog, tc.name)
		assert.Equal(t, tc.tcpBuf, l.TCPBuffer>>10, tc.name)
		assert.Equal(t, tc.fragBytes, l.FragBytes>>10, tc.name)
	}
	for mib := uint64(4); mib <= 8192; mib += mib / 4 {
		l := LimitsFor(mib << 20)
		worst := uint64(l.FastConns*2*l.FastBuffer + (2*l.Conns-l.FastConns+2*l.Backlog)*2*l.TCPBuffer +
			l.FragBytes + 2*l.UDPQueue*udpCost + l.TxSegments*segmentCost + l.TxBytes)
		assert.LessOrEqual(t, worst, l.Memory/4, "%d MiB: %+v", mib, l)
		assert.GreaterOrEqual(t, l.Backlog, 4)
		assert.GreaterOrEqual(t, l.Conns, 4)
	}
	assert.Equal(t, LimitsFor(DefaultMemory), LimitsFor(0))
}
