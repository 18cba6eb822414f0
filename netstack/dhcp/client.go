// The client: DISCOVER, OFFER, REQUEST, ACK with retransmission, fed received frames by Input.

package dhcp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// The retransmission timeout starts at backoffBase and doubles up to backoffMax; each wait is
// randomised by ±25% so that clients started together (a host booting many guests) spread out,
// as RFC 2131 section 4.1 randomises its 4 s by ±1 s. Variables so that tests can shorten them.
var (
	backoffBase = time.Second
	backoffMax  = 8 * time.Second
)

const (
	// requestTries is how many REQUESTs go unanswered before the client gives up on the
	// offer and starts over with DISCOVER (RFC 2131 section 4.4.1).
	requestTries = 4

	// replyQueue holds replies between Input and Acquire; when it is full Input drops the
	// reply as if the network had lost it, rather than block the receive path.
	replyQueue = 8
)

// paramRequestList is option 55: what we ask the server for.
var paramRequestList = []byte{optSubnetMask, optRouter, optDNS, optLeaseTime}

// ErrBusy is returned by Acquire when another Acquire on the same Client is running.
var ErrBusy = errors.New("dhcp: Acquire already running")

var (
	errNak      = errors.New("dhcp: server refused the request (NAK)")
	errNoAnswer = errors.New("dhcp: no answer to REQUEST")
)

// Client obtains an IPv4 lease by exchanging Ethernet frames with a DHCP server. Set its
// exported fields, deliver every received frame to Input, and call Acquire. The fields must
// not change while Acquire runs.
type Client struct {
	// MAC is the NIC's Ethernet address, sent as chaddr and used as the source address.
	MAC net.HardwareAddr
	// Send transmits one Ethernet frame. The client does not touch frame after Send returns,
	// so Send may keep it. An error counts as a lost frame: the client retransmits later.
	Send func(ctx context.Context, frame []byte) error
	// Hostname, if set, is sent as option 12 (at most 255 bytes).
	Hostname string
	// Logf, if set, receives progress messages from Acquire (never from Input).
	Logf func(format string, args ...any)

	running atomic.Bool
	// cur is the transaction Input feeds, nil when no Acquire runs. Input only loads it,
	// so it never waits for Acquire.
	cur atomic.Pointer[transaction]
}

// transaction is one DISCOVER..ACK exchange: a restart gets a new xid and a new queue, so
// replies to an old one that are still on their way cannot be confused with the new one's.
type transaction struct {
	xid     uint32
	mac     [6]byte
	replies chan message
}

// Acquire obtains a lease: it broadcasts DISCOVER until an OFFER arrives, REQUESTs the offered
// address and returns the lease when the server ACKs it. It retransmits with backoff for as
// long as ctx lasts, and starts over after a NAK or when its REQUESTs go unanswered. It
// returns ctx's error (wrapped) when ctx ends first, and ErrBusy if another Acquire is running.
func (c *Client) Acquire(ctx context.Context) (Lease, error) {
	switch {
	case len(c.MAC) != hlenEthernet:
		return Lease{}, fmt.Errorf("dhcp: Client.MAC %v is not an Ethernet address", c.MAC)
	case c.Send == nil:
		return Lease{}, errors.New("dhcp: Client.Send is nil")
	case len(c.Hostname) > 255:
		return Lease{}, errors.New("dhcp: Client.Hostname is longer than 255 bytes")
	}
	if !c.running.CompareAndSwap(false, true) {
		return Lease{}, ErrBusy
	}
	defer c.running.Store(false)
	defer c.cur.Store(nil)

	start := time.Now()
	for {
		lease, err := c.attempt(ctx, start)
		if err == nil {
			c.logf("dhcp: lease %v", lease)
			return lease, nil
		}
		if ctx.Err() != nil {
			return Lease{}, fmt.Errorf("dhcp: no lease: %w", ctx.Err())
		}
		c.logf("%v; starting over", err)
		if errors.Is(err, errNak) {
			// RFC 2131 section 3.1 says to restart at once; a pause keeps a server that
			// refuses everything from turning the client into a flood.
			if err := sleep(ctx, jitter(backoffBase)); err != nil {
				return Lease{}, fmt.Errorf("dhcp: no lease: %w", err)
			}
		}
	}
}

// attempt runs one transaction from DISCOVER to ACK or NAK.
func (c *Client) attempt(ctx context.Context, start time.Time) (Lease, error) {
	t := &transaction{xid: rand.Uint32(), mac: [6]byte(c.MAC), replies: make(chan message, replyQueue)}
	c.cur.Store(t)

	c.logf("dhcp: DISCOVER xid %#08x", t.xid)
	var offer Lease
	discover := func() []byte { return c.frame(t, msgDiscover, start, netip.Addr{}, netip.Addr{}) }
	_, err := c.exchange(ctx, t, 0, discover, func(m *message) bool {
		if m.typ != msgOffer {
			return false
		}
		l, err := leaseFrom(m)
		if err != nil {
			c.logf("dhcp: ignoring OFFER from %v: %v", m.serverID, err)
			return false
		}
		offer = l
		return true
	})
	if err != nil {
		return Lease{}, err
	}

	c.logf("dhcp: OFFER %v from %v; REQUEST", offer.Addr, offer.Server)
	var lease Lease
	request := func() []byte { return c.frame(t, msgRequest, start, offer.Addr.Addr(), offer.Server) }
	reply, err := c.exchange(ctx, t, requestTries, request, func(m *message) bool {
		// Only the server whose offer we took may answer (RFC 2131 section 4.4.1).
		if m.serverID != offer.Server {
			return false
		}
		switch m.typ {
		case msgNak:
			return true
		case msgAck:
			l, err := leaseFrom(m)
			if err != nil || l.Addr.Addr() != offer.Addr.Addr() {
				c.logf("dhcp: ignoring ACK for %v from %v", m.yiaddr, m.serverID)
				return false
			}
			lease = l
			return true
		}
		return false
	})
	switch {
	case err != nil:
		return Lease{}, err
	case reply.typ == msgNak:
		return Lease{}, errNak
	}
	return lease, nil
}

// exchange sends what build returns until accept takes a reply, waiting backoffBase after the
// first send and twice as long after each next one, up to backoffMax. tries bounds the sends;
// 0 means until ctx ends.
func (c *Client) exchange(ctx context.Context, t *transaction, tries int, build func() []byte, accept func(*message) bool) (message, error) {
	wait := backoffBase
	for try := 0; tries == 0 || try < tries; try++ {
		if err := c.Send(ctx, build()); err != nil {
			if ctx.Err() != nil {
				return message{}, ctx.Err()
			}
			c.logf("dhcp: send: %v", err)
		}
		timer := time.NewTimer(jitter(wait))
		m, ok, err := await(ctx, t, timer.C, accept)
		timer.Stop()
		if err != nil || ok {
			return m, err
		}
		wait = min(2*wait, backoffMax)
	}
	return message{}, errNoAnswer
}

// await takes replies of transaction t off its queue until accept takes one (ok), the
// timeout fires (not ok) or ctx ends (err).
func await(ctx context.Context, t *transaction, timeout <-chan time.Time, accept func(*message) bool) (m message, ok bool, err error) {
	for {
		select {
		case <-ctx.Done():
			return message{}, false, ctx.Err()
		case <-timeout:
			return message{}, false, nil
		case m := <-t.replies:
			if m.xid == t.xid && accept(&m) {
				return m, true, nil
			}
		}
	}
}

// frame builds a DISCOVER or REQUEST, broadcast from 0.0.0.0 since the client has no address.
func (c *Client) frame(t *transaction, typ msgType, start time.Time, requested, server netip.Addr) []byte {
	m := message{
		op:        bootRequest,
		xid:       t.xid,
		secs:      uint16(min(time.Since(start)/time.Second, 0xffff)),
		chaddr:    t.mac,
		typ:       typ,
		requested: requested,
		serverID:  server,
		hostname:  c.Hostname,
		params:    paramRequestList,
	}
	return appendPacket(nil, &packet{
		dstMAC: broadcastMAC, srcMAC: t.mac,
		srcIP: zeroIP, dstIP: broadcastIP,
		srcPort: clientPort, dstPort: serverPort,
		payload: appendMessage(nil, &m),
	})
}

// Input gives the client a received Ethernet frame. It may be called at any time, from any
// goroutine, with any frame: it keeps a decoded copy of a reply to the running transaction
// (an OFFER, ACK or NAK for our xid and chaddr, sent from port 67 to port 68, to our MAC or
// broadcast) and drops everything else. It never blocks and does not retain frame.
func (c *Client) Input(frame []byte) {
	t := c.cur.Load()
	if t == nil {
		return
	}
	p, err := parsePacket(frame)
	if err != nil || p.srcPort != serverPort || p.dstPort != clientPort {
		return
	}
	if p.dstMAC != t.mac && p.dstMAC != broadcastMAC {
		return
	}
	m, err := parseMessage(p.payload)
	if err != nil || m.op != bootReply || m.xid != t.xid || m.chaddr != t.mac {
		return
	}
	switch m.typ {
	case msgOffer, msgAck, msgNak:
		select {
		case t.replies <- m:
		default:
		}
	}
}

func (c *Client) logf(format string, args ...any) {
	if c.Logf != nil {
		c.Logf(format, args...)
	}
}

// jitter randomises d by ±25%.
func jitter(d time.Duration) time.Duration {
	if d < 4 {
		return d
	}
	return d - d/4 + rand.N(d/2)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
