package dhcp

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hub is an Ethernet hub in memory: a frame sent on one port reaches every other port, where
// the port's goroutine receives it. A frame is lost when lose says so or when the port's
// queue is full. Every client sees every other client's traffic, as on a shared segment.
type hub struct {
	lose func() bool

	mu     sync.Mutex // guards ports and closed, and orders sends against close
	ports  []chan []byte
	closed bool
	wg     sync.WaitGroup
}

// attach adds a port whose frames go to recv; send sends on it.
func (h *hub) attach(recv func(frame []byte)) (send func(frame []byte)) {
	in := make(chan []byte, 16)
	h.mu.Lock()
	h.ports = append(h.ports, in)
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for f := range in {
			recv(f)
		}
	}()
	return func(frame []byte) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.closed || h.lose() {
			return
		}
		for _, p := range h.ports {
			if p == in {
				continue
			}
			select {
			case p <- frame:
			default:
			}
		}
	}
}

func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	for _, p := range h.ports {
		close(p)
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// TestAcquireOverHub runs several clients against one server on a lossy shared segment,
// each side in goroutines of its own.
func TestAcquireOverHub(t *testing.T) {
	fastBackoff(t)
	var rmu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	h := &hub{lose: func() bool {
		rmu.Lock()
		defer rmu.Unlock()
		return rng.IntN(4) == 0 // a quarter of all frames
	}}
	defer h.close()

	s := newServer()
	var serverSend func([]byte)
	serverSend = h.attach(func(f []byte) {
		if reply, ok := s.Handle(f); ok {
			serverSend(reply)
		}
	})

	const n = 8
	clients := make([]*Client, n)
	for i := range clients {
		c := &Client{MAC: []byte{0x02, 0, 0, 0, 0, byte(i + 1)}}
		send := h.attach(c.Input)
		c.Send = func(ctx context.Context, frame []byte) error { send(frame); return nil }
		clients[i] = c
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	acquireAll := func() []Lease {
		leases := make([]Lease, n)
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, err := c.Acquire(ctx)
				assert.NoError(t, err, "client %d", i)
				leases[i] = l
			}()
		}
		wg.Wait()
		return leases
	}

	leases := acquireAll()
	seen := map[netip.Addr]int{}
	for i, l := range leases {
		require.True(t, l.Addr.IsValid(), "client %d", i)
		assert.Equal(t, 24, l.Addr.Bits())
		assert.True(t, s.Addr.Contains(l.Addr.Addr()))
		assert.Equal(t, serverIP, l.Server)
		assert.Equal(t, serverIP, l.Gateway)
		if j, dup := seen[l.Addr.Addr()]; dup {
			t.Errorf("clients %d and %d both got %v", j, i, l.Addr)
		}
		seen[l.Addr.Addr()] = i
	}

	// Asking again gets each client the same address.
	for i, l := range acquireAll() {
		assert.Equal(t, leases[i].Addr, l.Addr, "client %d", i)
	}
}
