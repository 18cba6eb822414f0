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

func TestFragBudgetWindows(t *testing.T) {
	b := fragBudget{limit: 10 << 10}
	notIP := make([]byte, 14)
	t0 := time.Unix(1000, 0)
	n := 0
	for b.admit(notIP, fragCost(1500), t0) {
		n++
	}
	assert.Equal(t, (10<<10)/fragCost(1500), n, "admitted up to the limit")
	assert.False(t, b.admit(notIP, fragCost(1500), t0.Add(ReassembleWindow-time.Second)), "still within the window")
	// The next window still counts the previous one: what it admitted may still be held.
	assert.False(t, b.admit(notIP, fragCost(1500), t0.Add(ReassembleWindow)), "the previous window still counts")
	assert.True(t, b.admit(notIP, fragCost(1500), t0.Add(2*ReassembleWindow)), "two windows on, all of it is gone")
	assert.True(t, b.admit(notIP, fragCost(1500), t0.Add(-time.Hour)), "a clock going back starts afresh")
}

// TestFragBudgetRefund: a datagram that completes gives back exactly its charge, in the window
// it was charged in; one that never completes keeps it; an IPv6 fragment is never refunded.
func TestFragBudgetRefund(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := fragBudget{limit: 3 * fragCost(1062)}
	frags := ipv4Frames(17, make([]byte, 1400), 1024, 7)
	require.Len(t, frags, 2)
	other := ipv4Frames(17, make([]byte, 1400), 1024, 8)
	require.True(t, b.admit(frags[0], fragCost(len(frags[0])), t0))
	require.True(t, b.admit(other[0], fragCost(len(other[0])), t0)) // never completes
	// The second fragment lands in the next window: the refund takes from both.
	t1 := t0.Add(ReassembleWindow)
	require.True(t, b.admit(frags[1], fragCost(len(frags[1])), t1))
	before := b.cur + b.prev
	b.refund(frags[0][14:34]) // the reassembled header: same key
	assert.Equal(t, before-fragCost(len(frags[0]))-fragCost(len(frags[1])), b.cur+b.prev)
	assert.Equal(t, fragCost(len(other[0])), b.prev, "the incomplete one stays charged")
	assert.Zero(t, b.cur)
	b.refund(frags[0][14:34])
	assert.Equal(t, fragCost(len(other[0])), b.prev, "a second refund gives nothing")

	u := udpSeg(peer6[:], guest6[:], "x", false)
	f6 := ipv6Frames(17, u, false, 1024, 1)[0]
	require.True(t, b.admit(f6, fragCost(len(f6)), t1))
	assert.Equal(t, fragCost(len(f6)), b.cur, "IPv6 fragments are charged and never refunded")
}

// TestFragmentBudgetRefundedOnCompletion: with a budget of a handful of fragments, a thousand
// complete fragmented datagrams all get through (their charge comes back as each completes),
// while fragments that never complete still run the budget out.
func TestFragmentBudgetRefundedOnCompletion(t *testing.T) {
	r := newRxRig(t, nil)
	r.e.frags.limit = 4 * fragCost(1100)
	for i := range 1000 {
		for _, f := range ipv4Frames(17, udpSeg(peer4[:], guest4[:], string(make([]byte, 1200)), false), 1024, uint16(i)) {
			r.e.Deliver(f, netfront.RxMeta{})
		}
		_, ok := r.readUDP()
		require.True(t, ok, "datagram %d: %+v", i, r.e.Stats())
	}
	assert.Zero(t, r.e.Stats().RxFragDropped)
	for i := range 10 {
		f := ipv4Frames(17, udpSeg(peer4[:], guest4[:], string(make([]byte, 1200)), false), 1024, uint16(5000+i))[0]
		r.e.Deliver(f, netfront.RxMeta{})
	}
	assert.Positive(t, r.e.Stats().RxFragDropped, "incomplete datagrams still run the budget out")
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
