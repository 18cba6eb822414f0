package netfront

import (
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen/sim/machine"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// tripCounter sits between the guest's XenStore client and its ring and counts round trips:
// requests, and the times the guest had to wait for the daemon, a request sent while none was
// outstanding. Requests sent together (pipelined) while others are outstanding share a trip.
type tripCounter struct {
	rw io.ReadWriteCloser

	mu          sync.Mutex
	in          []byte // replies read but not yet framed
	outstanding int
	requests    int
	trips       int
	kinds       map[xenstore.MsgType]int
}

func (c *tripCounter) Close() error { return c.rw.Close() }

func (c *tripCounter) Write(p []byte) (int, error) {
	if h, err := xenstore.DecodeHeader(p); err == nil {
		c.mu.Lock()
		if c.outstanding == 0 {
			c.trips++
		}
		c.outstanding++
		c.requests++
		c.kinds[h.Type]++
		c.mu.Unlock()
	}
	return c.rw.Write(p)
}

// replyHold is how long the counter holds each batch of replies back from the client: long
// enough for requests issued together by several goroutines to all be written (and counted as
// one trip) even on a loaded host under the race detector, where one goroutine may otherwise
// get its reply before the next has written its request.
const replyHold = 5 * time.Millisecond

// Read frames what the daemon sends: every message but a watch event answers a request.
func (c *tripCounter) Read(p []byte) (int, error) {
	n, err := c.rw.Read(p)
	time.Sleep(replyHold)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.in = append(c.in, p[:n]...)
	for len(c.in) >= xenstore.SockmsgSize {
		h, herr := xenstore.DecodeHeader(c.in)
		if herr != nil || len(c.in) < xenstore.SockmsgSize+int(h.Len) {
			break
		}
		c.in = c.in[xenstore.SockmsgSize+int(h.Len):]
		if h.Type != xenstore.XS_WATCH_EVENT && c.outstanding > 0 {
			c.outstanding--
		}
	}
	return n, err
}

func (c *tripCounter) counts() (requests, trips int, kinds map[xenstore.MsgType]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := make(map[xenstore.MsgType]int, len(c.kinds))
	for t, n := range c.kinds {
		k[t] = n
	}
	return c.requests, c.trips, k
}

// Connecting costs the guest few XenStore round trips: the reads of what the backend offers and
// of the frontend's own keys go out together, the frontend's keys are written in one
// transaction, together, with the switch to Connected. The bounds are today's figures; a change
// that adds a trip to the handshake fails here.
func TestHandshakeRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name            string
		cfg             Config
		trips, requests int
	}{
		// Before the reads and the writes went out together, xenbus.Open watched for nodes
		// already there and Connect read again the state Prepare had just read: 34 trips for
		// 34 requests, and 39 for 40 with two queues. Now 11 trips, or 12 when the backend
		// state watch's read of a change (on its own goroutine) happens to go out alone.
		{"one queue", Config{}, 12, 31},
		{"two queues", Config{Queues: 2}, 12, 37},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc2 := &tripCounter{kinds: map[xenstore.MsgType]int{}}
			m, err := machine.New(machine.Config{
				GuestID: guestID, GuestPages: 1600, MAC: "00:16:3e:5a:11:01",
				WrapXenStore: func(rw io.ReadWriteCloser) io.ReadWriteCloser {
					tc2.rw = rw
					return tc2
				},
			})
			require.NoError(t, err)
			t.Cleanup(m.Close)
			base, baseTrips, _ := tc2.counts()
			dev, err := Open(hangCtx(t), m.Platform, tc.cfg)
			require.NoError(t, err)
			t.Cleanup(func() { _ = dev.Close() })
			requests, trips, kinds := tc2.counts()
			requests, trips = requests-base, trips-baseTrips
			t.Logf("%d requests in %d round trips: %v", requests, trips, kinds)
			assert.Equal(t, 1, kinds[xenstore.XS_TRANSACTION_START], "one transaction for the frontend's keys")
			assert.Equal(t, 1, kinds[xenstore.XS_TRANSACTION_END])
			assert.LessOrEqual(t, trips, tc.trips, "round trips the guest waited for")
			assert.LessOrEqual(t, requests, tc.requests, "requests")
			assert.EqualValues(t, 128, dev.Stats()[0].RxPosted, "the device runs")
		})
	}
}
