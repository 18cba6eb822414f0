package dhcp

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wire connects a Client to a Server synchronously: Send hands the frame to the server and
// the reply straight to the client's Input, so the order of events does not depend on timing
// and the test can assert exactly what was sent. Hooks drop or rewrite frames.
type wire struct {
	t      *testing.T
	server *Server
	client *Client

	mu   sync.Mutex // guards sent
	sent []message  // what the client sent, in order

	// drop, if set, loses the client's n-th frame (counting from 0).
	drop func(n int, m message) bool
	// tamper, if set, returns the frames the client receives instead of the server's n-th
	// reply (counting from 0).
	tamper  func(n int, reply []byte) [][]byte
	replies int // server replies so far; only send touches it
}

func newWire(t *testing.T) *wire {
	fastBackoff(t)
	w := &wire{t: t, server: newServer()}
	w.client = &Client{MAC: clientMAC[:], Send: w.send, Hostname: "guest", Logf: t.Logf}
	return w
}

func (w *wire) send(ctx context.Context, frame []byte) error {
	_, m := decode(w.t, frame)
	w.mu.Lock()
	n := len(w.sent)
	w.sent = append(w.sent, m)
	w.mu.Unlock()
	if w.drop != nil && w.drop(n, m) {
		return nil
	}
	reply, ok := w.server.Handle(frame)
	if !ok {
		return nil
	}
	frames := [][]byte{reply}
	if w.tamper != nil {
		frames = w.tamper(w.replies, reply)
	}
	w.replies++
	for _, f := range frames {
		w.client.Input(f)
	}
	return nil
}

func (w *wire) types() []msgType {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []msgType
	for _, m := range w.sent {
		out = append(out, m.typ)
	}
	return out
}

func TestAcquire(t *testing.T) {
	const D, R = msgDiscover, msgRequest
	want := Lease{
		Addr: netip.MustParsePrefix("10.0.0.2/24"), Gateway: serverIP,
		DNS: []netip.Addr{ip("10.0.0.53"), ip("9.9.9.9")}, Server: serverIP, Duration: 2 * time.Hour,
	}
	nth := func(n int) func(int, message) bool { return func(i int, _ message) bool { return i == n } }
	first := func(edit func(t *testing.T, reply []byte) [][]byte) func(*wire) {
		return func(w *wire) {
			w.tamper = func(n int, reply []byte) [][]byte {
				if n == 0 {
					return edit(w.t, reply)
				}
				return [][]byte{reply}
			}
		}
	}
	tests := []struct {
		name  string
		setup func(w *wire)
		sent  []msgType
	}{
		{"clean", func(w *wire) {}, []msgType{D, R}},
		{"lost first DISCOVER", func(w *wire) { w.drop = nth(0) }, []msgType{D, D, R}},
		{"lost first REQUEST", func(w *wire) { w.drop = nth(1) }, []msgType{D, R, R}},
		{"three REQUESTs lost", func(w *wire) {
			w.drop = func(n int, _ message) bool { return n >= 1 && n <= 3 }
		}, []msgType{D, R, R, R, R}},
		{"unanswered REQUESTs start over", func(w *wire) {
			w.drop = func(n int, _ message) bool { return n >= 1 && n <= requestTries }
		}, []msgType{D, R, R, R, R, D, R}},
		{"lost first OFFER", first(func(*testing.T, []byte) [][]byte { return nil }), []msgType{D, D, R}},
		{"NAK starts over", func(w *wire) {
			w.tamper = func(n int, reply []byte) [][]byte {
				if n == 1 {
					reply = rewrite(w.t, reply, func(m *message) { m.typ, m.yiaddr = msgNak, zeroIP })
				}
				return [][]byte{reply}
			}
		}, []msgType{D, R, D, R}},
		{"OFFER for another xid ignored", first(func(t *testing.T, f []byte) [][]byte {
			return [][]byte{rewrite(t, f, func(m *message) { m.xid++ })}
		}), []msgType{D, D, R}},
		{"OFFER for another MAC ignored", first(func(t *testing.T, f []byte) [][]byte {
			return [][]byte{rewrite(t, f, func(m *message) { m.chaddr = otherMAC })}
		}), []msgType{D, D, R}},
		{"OFFER with a bad UDP checksum ignored", first(func(t *testing.T, f []byte) [][]byte {
			f[len(f)-1] ^= 1
			return [][]byte{f}
		}), []msgType{D, D, R}},
		{"OFFER without UDP checksum accepted", first(func(t *testing.T, f []byte) [][]byte {
			f[ethHeaderLen+ipv4HeaderLen+6], f[ethHeaderLen+ipv4HeaderLen+7] = 0, 0
			return [][]byte{f}
		}), []msgType{D, R}},
		{"OFFER without server id ignored", first(func(t *testing.T, f []byte) [][]byte {
			return [][]byte{rewrite(t, f, func(m *message) { m.serverID = netip.Addr{} })}
		}), []msgType{D, D, R}},
		{"ACK as an answer to DISCOVER ignored", first(func(t *testing.T, f []byte) [][]byte {
			return [][]byte{rewrite(t, f, func(m *message) { m.typ = msgAck })}
		}), []msgType{D, D, R}},
		{"DISCOVER echoed back ignored", first(func(t *testing.T, f []byte) [][]byte {
			return [][]byte{requestFrame(discover(clientMAC, 0))}
		}), []msgType{D, D, R}},
		{"junk before the OFFER", first(func(t *testing.T, f []byte) [][]byte {
			return [][]byte{nil, []byte("junk"), f[:40], f}
		}), []msgType{D, R}},
		{"duplicate OFFERs", first(func(t *testing.T, f []byte) [][]byte {
			return [][]byte{f, f, f}
		}), []msgType{D, R}},
		{"queue overflow drops, does not block", first(func(t *testing.T, f []byte) [][]byte {
			out := make([][]byte, 5*replyQueue)
			for i := range out {
				out[i] = f
			}
			return out
		}), []msgType{D, R}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWire(t)
			tt.setup(w)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			lease, err := w.client.Acquire(ctx)
			require.NoError(t, err)
			assert.Equal(t, want, lease)
			assert.Equal(t, tt.sent, w.types())
			assert.Nil(t, w.client.cur.Load(), "Input is off after Acquire")
		})
	}
}

// TestAcquireReplyChecks feeds the client ACKs it must ignore; it then retransmits its
// REQUEST and takes the real ACK.
func TestAcquireReplyChecks(t *testing.T) {
	tests := []struct {
		name string
		edit func(m *message)
	}{
		{"other xid", func(m *message) { m.xid ^= 0x80 }},
		{"other MAC", func(m *message) { m.chaddr = otherMAC }},
		{"other server", func(m *message) { m.serverID = ip("10.0.0.99") }},
		{"other address", func(m *message) { m.yiaddr = ip("10.0.0.77") }},
		{"unusable address", func(m *message) { m.yiaddr = ip("10.0.0.255") }},
		{"NAK from another server", func(m *message) { m.typ, m.serverID = msgNak, ip("10.0.0.99") }},
		{"OFFER", func(m *message) { m.typ = msgOffer }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWire(t)
			w.tamper = func(n int, reply []byte) [][]byte {
				if n == 1 {
					return [][]byte{rewrite(w.t, reply, tt.edit)}
				}
				return [][]byte{reply}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			lease, err := w.client.Acquire(ctx)
			require.NoError(t, err)
			assert.Equal(t, ip("10.0.0.2"), lease.Addr.Addr())
			assert.Equal(t, []msgType{msgDiscover, msgRequest, msgRequest}, w.types())
		})
	}
}

// TestAcquireMessages checks what the client puts in its DISCOVER and REQUEST.
func TestAcquireMessages(t *testing.T) {
	w := newWire(t)
	var frames [][]byte
	w.drop = func(n int, m message) bool { return false }
	send := w.client.Send
	w.client.Send = func(ctx context.Context, frame []byte) error {
		frames = append(frames, frame)
		return send(ctx, frame)
	}
	_, err := w.client.Acquire(context.Background())
	require.NoError(t, err)
	require.Len(t, frames, 2)

	for i, f := range frames {
		p, m := decode(t, f)
		assert.Equal(t, broadcastMAC, p.dstMAC)
		assert.Equal(t, clientMAC, p.srcMAC)
		assert.Equal(t, zeroIP, p.srcIP)
		assert.Equal(t, broadcastIP, p.dstIP)
		assert.Equal(t, uint16(clientPort), p.srcPort)
		assert.Equal(t, uint16(serverPort), p.dstPort)
		assert.GreaterOrEqual(t, len(p.payload), minBOOTPLen)
		assert.Equal(t, uint8(bootRequest), m.op)
		assert.Equal(t, clientMAC, m.chaddr)
		assert.Equal(t, zeroIP, m.ciaddr)
		assert.Equal(t, "guest", m.hostname)
		assert.Equal(t, paramRequestList, m.params)
		assert.Zero(t, m.flags, "the client takes unicast replies")
		if i == 1 {
			assert.Equal(t, msgRequest, m.typ)
			assert.Equal(t, ip("10.0.0.2"), m.requested)
			assert.Equal(t, serverIP, m.serverID)
		} else {
			assert.Equal(t, msgDiscover, m.typ)
			assert.False(t, m.requested.IsValid())
			assert.False(t, m.serverID.IsValid())
		}
	}
	assert.Equal(t, w.sent[0].xid, w.sent[1].xid, "REQUEST keeps the DISCOVER's xid")
}

func TestAcquireNewXIDAfterNAK(t *testing.T) {
	w := newWire(t)
	w.tamper = func(n int, reply []byte) [][]byte {
		if n == 1 {
			reply = rewrite(w.t, reply, func(m *message) { m.typ, m.yiaddr = msgNak, zeroIP })
		}
		return [][]byte{reply}
	}
	_, err := w.client.Acquire(context.Background())
	require.NoError(t, err)
	require.Len(t, w.sent, 4)
	assert.NotEqual(t, w.sent[0].xid, w.sent[2].xid)
	assert.Equal(t, w.sent[2].xid, w.sent[3].xid)
}

func TestAcquireContextEnds(t *testing.T) {
	fastBackoff(t)
	var mu sync.Mutex
	sends := 0
	c := &Client{MAC: clientMAC[:], Send: func(ctx context.Context, frame []byte) error {
		mu.Lock()
		defer mu.Unlock()
		sends++
		if sends%2 == 0 {
			return errors.New("link down") // counts as a lost frame
		}
		return nil
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Acquire(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	mu.Lock()
	assert.Greater(t, sends, 2, "DISCOVER retransmitted")
	mu.Unlock()

	// A Send that fails because ctx ended stops Acquire too.
	ctx, cancel = context.WithCancel(context.Background())
	c.Send = func(context.Context, []byte) error { cancel(); return context.Canceled }
	_, err = c.Acquire(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

func TestAcquireBusy(t *testing.T) {
	fastBackoff(t)
	started := make(chan struct{})
	var once sync.Once
	c := &Client{MAC: clientMAC[:], Send: func(context.Context, []byte) error {
		once.Do(func() { close(started) })
		return nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := c.Acquire(ctx)
		done <- err
	}()
	<-started
	_, err := c.Acquire(context.Background())
	assert.ErrorIs(t, err, ErrBusy)
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

func TestAcquireConfig(t *testing.T) {
	send := func(context.Context, []byte) error { return nil }
	long := string(make([]byte, 256))
	tests := []struct {
		name string
		c    *Client
		msg  string
	}{
		{"no MAC", &Client{Send: send}, "MAC"},
		{"short MAC", &Client{MAC: clientMAC[:5], Send: send}, "MAC"},
		{"EUI-64", &Client{MAC: make([]byte, 8), Send: send}, "MAC"},
		{"no Send", &Client{MAC: clientMAC[:]}, "Send"},
		{"long hostname", &Client{MAC: clientMAC[:], Send: send, Hostname: long}, "Hostname"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.Acquire(context.Background())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

// TestInput checks which frames Input queues for a running transaction.
func TestInput(t *testing.T) {
	const xid = 0x1234
	unicast := func(f []byte) []byte {
		copy(f[0:6], clientMAC[:])
		return f
	}
	tests := []struct {
		name   string
		frame  []byte
		queued bool
	}{
		{"OFFER", replyFrame(offer(xid)), true},
		{"OFFER to our MAC", unicast(replyFrame(offer(xid))), true},
		{"ACK", replyFrame(func() message { m := offer(xid); m.typ = msgAck; return m }()), true},
		{"NAK", replyFrame(func() message { m := offer(xid); m.typ = msgNak; return m }()), true},
		{"other xid", replyFrame(offer(xid + 1)), false},
		{"other chaddr", replyFrame(func() message { m := offer(xid); m.chaddr = otherMAC; return m }()), false},
		{"to another MAC", func() []byte { f := replyFrame(offer(xid)); copy(f, otherMAC[:]); return f }(), false},
		{"a request", requestFrame(func() message { m := offer(xid); return m }()), false},
		{"DISCOVER type in a reply", replyFrame(func() message { m := offer(xid); m.typ = msgDiscover; return m }()), false},
		{"INFORM type in a reply", replyFrame(func() message { m := offer(xid); m.typ = msgInform; return m }()), false},
		{"to port 67", func() []byte {
			m := offer(xid)
			return appendPacket(nil, &packet{dstMAC: broadcastMAC, srcMAC: serverMAC, srcIP: serverIP, dstIP: broadcastIP,
				srcPort: serverPort, dstPort: serverPort, payload: appendMessage(nil, &m)})
		}(), false},
		{"from port 1067", func() []byte {
			m := offer(xid)
			return appendPacket(nil, &packet{dstMAC: broadcastMAC, srcMAC: serverMAC, srcIP: serverIP, dstIP: broadcastIP,
				srcPort: 1067, dstPort: clientPort, payload: appendMessage(nil, &m)})
		}(), false},
		{"bad UDP checksum", func() []byte { f := replyFrame(offer(xid)); f[len(f)-1] ^= 1; return f }(), false},
		{"truncated", replyFrame(offer(xid))[:100], false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Client{MAC: clientMAC[:]}
			c.Input(tt.frame) // no transaction: always dropped
			tr := &transaction{xid: xid, mac: clientMAC, replies: make(chan message, 1)}
			c.cur.Store(tr)
			c.Input(tt.frame)
			assert.Equal(t, tt.queued, len(tr.replies) == 1)
		})
	}
}

// TestInputDoesNotRetain checks that a queued reply does not change when the frame it came
// from is overwritten.
func TestInputDoesNotRetain(t *testing.T) {
	c := &Client{MAC: clientMAC[:]}
	tr := &transaction{xid: 7, mac: clientMAC, replies: make(chan message, 1)}
	c.cur.Store(tr)
	m := offer(7)
	m.hostname, m.clientID = "server-said", []byte{1, 2, 3}
	f := replyFrame(m)
	c.Input(f)
	for i := range f {
		f[i] = 0xa5
	}
	got := <-tr.replies
	assert.Equal(t, "server-said", got.hostname)
	assert.Equal(t, []byte{1, 2, 3}, got.clientID)
	assert.Equal(t, m.dns, got.dns)
}

func TestJitter(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 3, 4, time.Millisecond, time.Second, 8 * time.Second} {
		for range 100 {
			j := jitter(d)
			assert.GreaterOrEqual(t, j, d-d/4)
			assert.LessOrEqual(t, j, d+d/4)
		}
	}
}
