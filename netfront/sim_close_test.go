// Connections taken back half-way: Close racing the device's own reconnection, and an attempt
// given up after it published its rings. Whatever step they stop at, both sides end closed,
// every page comes back, and no backend is left to map what was taken back.

package netfront

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen/xenbus"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// The backend closes mid-stream and the device reconnects (it closes its side, then connects
// anew); Close is called while the k-th XenStore request of that is held back, so Close lands
// exactly there: in the closing handshake, before the new connection is published, or after
// it was, with the backend already mapping the new rings. When Close returns, the frontend is
// Closed (or Initialising, if it never published), the backend has let go of every page and
// nothing waits for a late unmap; the vif then connects again.
func TestSimCloseDuringReconnect(t *testing.T) {
	n := reconnectRequests(t)
	for k := range n {
		t.Run(fmt.Sprintf("request-%d", k), func(t *testing.T) {
			r := newRig(t, rigOpts{})
			tap := r.tap
			r.echo()
			base := r.baseline(t)
			links := make(chan bool, 4)
			dev := r.open(t, Config{Link: func(up bool) { links <- up }})

			held := make(chan xenstore.Header, 1)
			release := make(chan struct{})
			var releaseOnce sync.Once
			let := func() { releaseOnce.Do(func() { close(release) }) }
			t.Cleanup(let) // before the device's Close, which needs XenStore
			start := tap.requests()
			tap.setHook(func(h xenstore.Header, payload []byte) {
				// The client writes one request at a time: hooks never run concurrently.
				if tap.requests()-start-1 == k {
					held <- h
					<-release
				}
			})
			r.be.Disconnect()
			var h xenstore.Header
			for waiting := true; waiting; {
				select {
				case h = <-held:
					waiting = false
				case up := <-links:
					if up {
						tap.setHook(nil)
						t.Skip("the reconnection made fewer requests this time")
					}
				case <-time.After(hangDeadline):
					t.Fatal("the reconnection neither made the request nor finished")
				}
			}
			t.Logf("Close while request %d (%v) is held, the backend %v", k, h.Type, r.be.State())

			closed := make(chan error, 1)
			go func() { closed <- dev.Close() }()
			require.Eventually(t, func() bool { return errors.Is(dev.Err(), ErrClosed) }, hangDeadline, tick)
			tap.setHook(nil)
			let()
			select {
			case err := <-closed:
				require.NoError(t, err)
			case <-time.After(hangDeadline):
				t.Fatal("Close did not return")
			}

			assert.Zero(t, r.guest.Grants.Deferred(), "pages the backend still maps after Close")
			assert.Zero(t, r.be.Queues(), "the backend still serves rings after Close")
			fe, _ := r.xs.Read(frontPath() + "/state")
			assert.Contains(t, []string{stateWire(xenbus.XenbusStateClosed), stateWire(xenbus.XenbusStateInitialising)}, fe,
				"the frontend's state after Close (the backend is %v)", r.be.State())
			if fe == stateWire(xenbus.XenbusStateClosed) {
				assert.Equal(t, xenbus.XenbusStateClosed, r.be.State(), "Close did not wait for the backend to close")
			}
			r.checkBaseline(t, base)

			fn, rx := collector(4)
			dev = r.open(t, Config{Receive: fn})
			sendEcho(t, dev, rx, 1514, byte(k))
			require.NoError(t, dev.Close())
			r.checkBaseline(t, base)
		})
	}
}

// reconnectRequests is a dry run: the number of XenStore requests a device makes to reconnect
// after its backend closed (to close its side, then to connect anew).
func reconnectRequests(t *testing.T) int {
	r := newRig(t, rigOpts{})
	tap := r.tap
	links := make(chan bool, 4)
	dev := r.open(t, Config{Link: func(up bool) { links <- up }})
	start := tap.requests()
	r.be.Disconnect()
	require.False(t, nextLink(t, links))
	require.True(t, nextLink(t, links))
	n := tap.requests() - start
	require.NoError(t, dev.Close())
	require.Greater(t, n, 5)
	return n
}

// stateWire is a state as XenStore holds it.
func stateWire(s xenbus.State) string { return fmt.Sprint(int(s)) }

// An attempt that published its rings (Connected, in the same transaction) and then saw the
// backend close: netback may have read that Connected before it went, and acts on it late,
// walking back through Closed and InitWait and reading the ring references only then. Open
// fails, having taken back its Connected, revoked the grants and freed the references, which
// the next attempt reuses: the references must not stay published for that late backend to
// map (it would map the next attempt's buffers as rings and serve them as a connection).
func TestSimAbandonedAttemptUnpublishesRings(t *testing.T) {
	for _, queues := range []int{1, 2} {
		t.Run(fmt.Sprintf("queues=%d", queues), func(t *testing.T) {
			r := newRig(t, rigOpts{})
			tap := r.tap
			r.echo()
			base := r.baseline(t)
			// The backend closes just before the transaction that publishes the rings commits.
			var mu sync.Mutex
			publishing := map[uint32]bool{}
			var once sync.Once
			tap.setHook(func(h xenstore.Header, payload []byte) {
				path, val, _ := strings.Cut(string(payload), "\x00")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case h.Type == xenstore.XS_WRITE && h.TxID != 0 && strings.HasSuffix(path, "device/vif/0/state"):
					if strings.TrimRight(val, "\x00") == stateWire(xenbus.XenbusStateConnected) {
						publishing[h.TxID] = true
					}
				case h.Type == xenstore.XS_TRANSACTION_END && publishing[h.TxID]:
					once.Do(r.be.Disconnect)
				}
			})
			ctx, cancel := context.WithTimeout(hangCtx(t), hangDeadline)
			defer cancel()
			dev, err := Open(ctx, r.plat, Config{Queues: queues})
			tap.setHook(nil)
			if err == nil {
				_ = dev.Close()
				t.Skip("the backend connected before the device saw it close, this time")
			}
			require.ErrorIs(t, err, xenbus.ErrBackendClosed)
			keys := []string{"multi-queue-num-queues"}
			for _, dir := range []string{"", "queue-0/", "queue-1/"} {
				for _, key := range []string{"tx-ring-ref", "rx-ring-ref", "event-channel", "event-channel-tx", "event-channel-rx"} {
					keys = append(keys, dir+key)
				}
			}
			for _, key := range keys {
				v, ok := r.xs.Read(frontPath() + "/" + key)
				assert.False(t, ok, "%s = %s still published after the attempt was given up", key, v)
			}
			// The backend may have mapped the rings before their references were taken back:
			// their grants end once it lets go, on seeing the frontend close.
			require.Eventually(t, func() bool { return r.guest.Grants.RetryDeferred() == 0 }, hangDeadline, tick,
				"grants still mapped by the backend")
			r.checkBaseline(t, base)
		})
	}
}
