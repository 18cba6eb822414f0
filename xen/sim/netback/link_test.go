// Link: two guests' vifs joined as by a bridge, with the real netfront on both sides.

package netback

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/xenbus"
)

type linkEnd struct {
	be  *Backend
	dev *netfront.Device
	rx  chan []byte
}

// openLinkEnd starts the backend of guest g's vif 0 and opens netfront on it.
func openLinkEnd(t *testing.T, m *machine, g *guest, cfg netfront.Config) *linkEnd {
	be, err := New(m.dom0, m.xs, g.dom.ID(), 0, DefaultConfig())
	require.NoError(t, err)
	t.Cleanup(func() { _ = be.Close() })
	e := &linkEnd{be: be, rx: make(chan []byte, 64)}
	cfg.Receive = func(b []byte, _ netfront.RxMeta) { e.rx <- append([]byte(nil), b...) }
	plat := xenbus.Platform{XenStore: g.xs, Grants: g.svc.Grants, Events: g.svc.Events, Memory: g.dom.Memory()}
	e.dev, err = netfront.Open(hangCtx(t), plat, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.dev.Close() })
	return e
}

func (e *linkEnd) recv(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-e.rx:
		return b
	case <-hangCtx(t).Done():
		t.Fatal("no frame received")
		return nil
	}
}

// linkFrame is an n-byte frame from src with a payload that depends on seed.
func linkFrame(n int, src byte, seed byte) []byte {
	b := rxFrame(n, false)
	copy(b, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x16, 0x3e, 0, 0, src})
	for i := netif.ETH_HLEN; i < n; i++ {
		b[i] += seed
	}
	return b
}

func TestLink(t *testing.T) {
	m := newMachine(t)
	ga := m.newGuest(t, 7, "00:16:3e:00:00:07")
	gb := m.newGuest(t, 8, "00:16:3e:00:00:08")
	a := openLinkEnd(t, m, ga, netfront.Config{})
	// b without scatter-gather: frames over a page cannot reach it.
	b := openLinkEnd(t, m, gb, netfront.Config{NoSG: true})
	Link(a.be, b.be)

	ctx := hangCtx(t)
	sizes := []int{60, 1514, 4096, 9000}
	for i, n := range sizes {
		f := linkFrame(n, 7, byte(i))
		require.NoError(t, a.dev.Send(ctx, f, netfront.TxMeta{}))
		if n > xen.PageSize {
			continue // refused by b's backend (ErrTooBig), counted below
		}
		got := b.recv(t)
		assert.True(t, bytes.Equal(f, got), "a -> b, %d bytes", n)
	}
	for i, n := range []int{60, 1514, 4096} {
		f := linkFrame(n, 8, byte(i))
		require.NoError(t, b.dev.Send(ctx, f, netfront.TxMeta{}))
		got := a.recv(t)
		assert.True(t, bytes.Equal(f, got), "b -> a, %d bytes", n)
	}
	// Nothing went back to its sender, and a's oversized frame was dropped at b's vif.
	select {
	case f := <-a.rx:
		t.Fatalf("a received an unexpected %d-byte frame", len(f))
	default:
	}
	// Send returns once the frame is on the ring; the oversized one may still be in flight.
	require.Eventually(t, func() bool { return b.be.Stats().Queues[0].RxDropped == 1 }, waitFor, tick)
	sa, sb := a.be.Stats().Queues[0], b.be.Stats().Queues[0]
	assert.Equal(t, uint64(4), sa.TxPackets)
	assert.Equal(t, uint64(3), sb.TxPackets)
	assert.Equal(t, uint64(3), sa.RxPackets)
	assert.Equal(t, uint64(3), sb.RxPackets)
	assert.Equal(t, uint64(1), sb.RxDropped)
}
