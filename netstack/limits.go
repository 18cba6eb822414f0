// What remote traffic may make the stack hold, derived from the guest's memory.

package netstack

import (
	"math"
	"time"
)

// Limits bound every table and queue that a remote peer can grow, so that no traffic pattern
// takes a small guest to out-of-memory. They derive from the memory the Go heap can use
// (LimitsFor); the budget of the examples at memory = 16, 32 and 64 is in docs/reliability.md.
//
// What each bounds, worst case:
//   - half-open TCP connections: Backlog per listener, then SYN cookies (no state at all);
//   - connections awaiting Accept: Backlog per listener, each with its buffers;
//   - accepted connections: Conns open across all listeners, each with at most TCPBuffer of
//     receive and of send buffer, and as many again closed by the program but still holding
//     buffers (unsent data a peer will not take: Stall ends it); beyond either, new
//     connections are reset as they are accepted (TIME-WAIT, which lasts TimeWait, holds no
//     buffers and does not count);
//   - IP fragments awaiting reassembly: FragBytes admitted per ReassembleWindow, charged at
//     what a held fragment costs (its buffer and bookkeeping); gVisor forgets a datagram's
//     fragments after 30 s (IPv4) or 60 s (IPv6), so no more than that is ever held;
//   - UDP receive queues: UDPQueue datagrams per socket (gVisor counts only payload bytes,
//     212 KiB, so empty datagrams would queue without end);
//   - the neighbour cache: gVisor's 512 entries;
//   - the outgoing queue (txqueue.go): TxSegments TCP segments, whose payload is the
//     connections' send buffers above and which cost segmentCost each beyond it, and TxBytes
//     of everything else (ACKs, SYN-ACKs, resets, ICMP, UDP), charged at their size plus
//     segmentCost.
type Limits struct {
	Memory    uint64 // the heap size they derive from
	Backlog   int    // per listener: half-open before SYN cookies; accept queue
	Conns     int    // accepted TCP connections open at once, all listeners together
	TCPBuffer int    // TCP receive and send buffer of an accepted connection
	// FastConns accepted connections at a time get FastBuffer instead: enough window for a
	// bulk transfer. Connections the program opens itself tune theirs up to FastBuffer.
	FastConns, FastBuffer int
	FragBytes             int // fragment memory admitted per ReassembleWindow
	UDPQueue              int // datagrams a UDP socket's queue holds for its reader
	// TxSegments is how many TCP segments carrying payload the outgoing queue holds: the
	// FastConns connections' send buffers and one TCPBuffer in full-size segments, so that
	// TCP, which cannot be told to wait, does not lose a bulk transfer's segments to its own
	// queue (0: derived so). TxBytes bounds the other packets queued.
	TxSegments, TxBytes int
	TimeWait            time.Duration // how long a closed connection stays in TIME-WAIT
	Stall               time.Duration // TCP user timeout of accepted connections, and FIN-WAIT-2's
}

// ReassembleWindow is the length of the fragment budget's window: the longer of gVisor's
// reassembly timeouts (30 s for IPv4, 60 s for IPv6), so a fragment admitted in one window is
// gone two windows later.
const ReassembleWindow = 60 * time.Second

// DefaultMemory is what LimitsFor assumes when the memory is not known: hosted mode, a Linux
// process whose memory is the host's (256 KiB TCP buffers, 64 connections).
const DefaultMemory = 512 << 20

// LimitsFor derives the limits from mem, the bytes the Go heap can grow to (0: DefaultMemory).
// On Xen that is what is left of the runtime's RAM after the image, less what the runtime's
// 4 MiB arenas cannot use (unikernel works it out), not the xl config's memory. The network
// may hold about a quarter of it: the program and gVisor's own structures take some, and Go's
// collector needs as much again as the live heap.
func LimitsFor(mem uint64) Limits {
	if mem == 0 {
		mem = DefaultMemory
	}
	budget := mem / 4
	l := Limits{Memory: mem, TimeWait: 5 * time.Second, Stall: 30 * time.Second}
	// A quarter of the budget for the FastConns connections with FastBuffer: a bulk transfer
	// needs a window of a round trip's worth of bytes, which TCPBuffer is not for a small
	// guest. Three eighths for the others' buffers: Conns of them (open, and as many again
	// lingering) at 2 × TCPBuffer, plus those awaiting Accept (Backlog per listener). Buffers
	// grow with the square root of memory, connections with the rest: 32 KiB and 6 connections
	// for an 8 MiB heap, 256 KiB and 48 for 512 MiB.
	l.TCPBuffer = int(clamp(uint64(64<<10*math.Sqrt(float64(mem)/(32<<20))), 16<<10, 4<<20)) &^ 1023
	l.FastConns = 4
	// Each holds a FastBuffer to send and one to receive, and its sent segments wait in the
	// outgoing queue at segmentCost per full-size segment on top of its send buffer.
	l.FastBuffer = max(int(min(budget/32*2*fullSegment/(2*fullSegment+segmentCost), 1<<20))&^1023, l.TCPBuffer)
	l.Conns = int(clamp(budget*3/8/(4*uint64(l.TCPBuffer)), 4, 4096))
	l.Backlog = int(clamp(uint64(l.Conns)/4, 4, 1024))
	// A sixteenth of it for fragments, at most what gVisor itself would hold for one family.
	l.FragBytes = int(clamp(budget/16, 64<<10, 4<<20))
	// A sixteenth for each UDP socket's queue, at what a full-size datagram held costs.
	l.UDPQueue = int(clamp(budget/16/uint64(udpCost), 16, 1024))
	l.TxSegments = txSegmentsFor(l)
	// A sixty-fourth for the other packets in the outgoing queue.
	l.TxBytes = int(clamp(budget/64, 16<<10, 4<<20))
	return l
}

// txSegmentsFor returns the outgoing queue's room for TCP segments: the send buffers of the
// FastConns bulk connections and one ordinary connection's, in full-size segments. A bulk
// transfer has its whole send buffer in flight when the backend falls behind; the ordinary
// connections' small windows share the rest of the room.
func txSegmentsFor(l Limits) int {
	return max((l.FastConns*l.FastBuffer+l.TCPBuffer)/fullSegment, 16)
}

// valid returns l with every limit at least what lets the stack work at all.
func (l Limits) valid() Limits {
	l.Backlog = max(l.Backlog, 1)
	l.Conns = max(l.Conns, 1)
	l.TCPBuffer = max(l.TCPBuffer, 4096)
	l.FastConns = max(l.FastConns, 0)
	l.FastBuffer = max(l.FastBuffer, l.TCPBuffer)
	l.FragBytes = max(l.FragBytes, fragCost(1514))
	l.UDPQueue = max(l.UDPQueue, 1)
	if l.TxSegments <= 0 {
		l.TxSegments = txSegmentsFor(l)
	}
	l.TxBytes = max(l.TxBytes, 16<<10)
	if l.TimeWait <= 0 {
		l.TimeWait = time.Second
	}
	if l.Stall <= 0 {
		l.Stall = 30 * time.Second
	}
	return l
}

func clamp(v, lo, hi uint64) uint64 {
	return min(max(v, lo), hi)
}

// udpCost is what a queued UDP datagram costs at most on the MTU: the frame's buffer chunk,
// the packet buffer, and the socket's record of it.
var udpCost = fragCost(1514) + 256

// fragCost is what holding a received fragment costs: gVisor copies the frame into a buffer
// chunk of the next power of two, plus the packet buffer and reassembly bookkeeping.
func fragCost(n int) int {
	c := 64
	for c < n {
		c <<= 1
	}
	return c + 512
}
