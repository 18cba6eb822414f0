// Faults while the device connects: a backend that never answers or probes late, XenStore
// transaction conflicts at every step of the connect transaction, and the backend closing at
// every step of a handshake and of a reconnection. Each must end with a device that works or a
// clear error, and with every grant and goroutine given back.

package netfront

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen/sim/netback"
	"github.com/tamaxen/tamaxen/xen/xenbus"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// dropCollector is collector for frames that may come more than once: a callback finding the
// channel full drops the frame rather than block the device.
func dropCollector(n int) (func([]byte, RxMeta), chan got) {
	ch := make(chan got, n)
	return func(b []byte, m RxMeta) {
		select {
		case ch <- got{append([]byte(nil), b...), m}:
		default:
		}
	}, ch
}

// echoOnceUp sends a frame through an echoing backend, again and again, until it comes back:
// the device may be between connections (a frame sent as the backend closed is lost, as on a
// wire), and traffic must pass once it has connected again. rx must come from dropCollector.
func echoOnceUp(t *testing.T, dev *Device, rx chan got, n int, seed byte) {
	t.Helper()
	f := frame(n, seed)
	require.Eventually(t, func() bool {
		for drained := false; !drained; {
			select {
			case g := <-rx:
				if bytes.Equal(g.data, f) {
					return true
				}
			default:
				drained = true
			}
		}
		// Bounded: a ring nobody serves fills up, and the next try goes to the next connection.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = dev.Send(ctx, f, TxMeta{})
		return false
	}, hangDeadline, 20*time.Millisecond, "no frame came back")
}

// A backend that never answers: the toolstack added the vif, but the driver domain never
// probes it (no features, state stays Initialising), or probes it and never connects. Open
// must end with its context, leaving nothing behind; in the second case the frontend must not
// stay Connected with ring references it revoked.
func TestSimFaultBackendNeverAnswers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, r *rig)
	}{
		{"never probes", func(t *testing.T, r *rig) {}},
		{"probes, never connects", func(t *testing.T, r *rig) {
			// What netback_probe writes, then nothing: a driver domain that hangs after probing.
			for _, kv := range [][2]string{{"feature-rx-copy", "1"}, {"feature-sg", "1"}, {"state", "2"}} {
				require.NoError(t, r.xs.Write(backPath()+"/"+kv[0], kv[1]))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOpts{noBackend: true})
			tc.setup(t, r)
			base := r.baseline(t)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			dev, err := Open(ctx, r.plat, Config{})
			require.Error(t, err)
			assert.Nil(t, dev)
			assert.ErrorIs(t, err, context.DeadlineExceeded, "%v", err)
			r.checkBaseline(t, base)
			st, _ := r.xs.Read(frontPath() + "/state")
			assert.NotEqual(t, "4", st, "the frontend still says Connected after giving up")
		})
	}
}

// A backend that probes late (a driver domain booting after the guest, or a vif hot-plugged
// while netback is busy): Open waits for it instead of reading features that are not there yet.
func TestSimFaultBackendProbesLate(t *testing.T) {
	r := newRig(t, rigOpts{noBackend: true})
	tap := r.tap
	base := r.baseline(t)
	type result struct {
		dev *Device
		err error
	}
	// Open follows the backend's state from its first look at the backend on: the backend
	// comes once Open has set that watch.
	watching := make(chan struct{})
	var once sync.Once
	tap.setHook(func(h xenstore.Header, payload []byte) {
		if h.Type == xenstore.XS_WATCH && reqPath(payload) == backPath()+"/state" {
			once.Do(func() { close(watching) })
		}
	})
	fn, rx := collector(4)
	done := make(chan result, 1)
	go func() {
		dev, err := Open(hangCtx(t), r.plat, Config{Receive: fn})
		done <- result{dev, err}
	}()
	select {
	case <-watching:
	case res := <-done:
		t.Fatalf("Open returned with no backend: %v", res.err)
	}
	tap.setHook(nil)
	be, err := netback.New(r.dom0, r.xs, guestID, 0, netback.DefaultConfig())
	require.NoError(t, err)
	r.be = be
	t.Cleanup(func() { _ = be.Close() })
	res := <-done
	require.NoError(t, res.err)
	dev := res.dev
	assert.True(t, dev.Features().SG, "features read before the backend wrote them")
	r.echo()
	sendEcho(t, dev, rx, 1514, 1)
	require.NoError(t, dev.Close())
	require.NoError(t, be.Close()) // its goroutines are not in the baseline
	r.checkBaseline(t, base)
}

// txSteps follows the connect transaction, the one that publishes the rings (it starts with a
// write into the frontend's directory), operation by operation.
type txSteps struct {
	mu      sync.Mutex
	publish map[uint32][]string // tx id -> paths of its operations so far
	other   map[uint32]bool
}

func newTxSteps() *txSteps {
	return &txSteps{publish: make(map[uint32][]string), other: make(map[uint32]bool)}
}

// observe records a request; for one of a connect transaction it returns the paths of the
// operations that transaction made before it, and true.
func (s *txSteps) observe(h xenstore.Header, payload []byte) ([]string, bool) {
	if h.TxID == 0 {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.other[h.TxID] {
		return nil, false
	}
	ops, ok := s.publish[h.TxID]
	if !ok {
		p := reqPath(payload)
		// publish writes its keys all at once, in no set order: any write into the
		// frontend's directory opens the connect transaction (SwitchState's starts with a
		// read, unpublish's with a removal).
		if h.Type != xenstore.XS_WRITE || !strings.HasPrefix(p, "device/vif/") {
			s.other[h.TxID] = true
			return nil, false
		}
	}
	prev := ops
	if h.Type != xenstore.XS_TRANSACTION_END {
		s.publish[h.TxID] = append(ops, reqPath(payload))
	}
	return prev, true
}

// XenStore transaction conflicts at every step of the connect transaction: before its commit
// another domain changes the node its k-th operation touched, so the commit fails with
// EAGAIN. The transaction runs again, and the device connects and passes traffic.
func TestSimFaultTransactionConflicts(t *testing.T) {
	for _, queues := range []int{1, 2} {
		// A dry run counts the connect transaction's operations.
		r := newRig(t, rigOpts{})
		tap := r.tap
		steps := newTxSteps()
		var nops atomic.Int64
		tap.setHook(func(h xenstore.Header, payload []byte) {
			if ops, ok := steps.observe(h, payload); ok && h.Type == xenstore.XS_TRANSACTION_END {
				nops.Store(int64(len(ops)))
			}
		})
		require.NoError(t, r.open(t, Config{Queues: queues}).Close())
		n := int(nops.Load())
		require.Greater(t, n, 5, "the connect transaction was not seen")
		for k := range n {
			t.Run(fmt.Sprintf("queues=%d/after-op-%d", queues, k), func(t *testing.T) {
				r := newRig(t, rigOpts{})
				tap := r.tap
				base := r.baseline(t)
				steps := newTxSteps()
				var hit atomic.Bool
				tap.setHook(func(h xenstore.Header, payload []byte) {
					ops, ok := steps.observe(h, payload)
					if !ok || h.Type != xenstore.XS_TRANSACTION_END || len(ops) <= k || hit.Load() {
						return
					}
					// Every operation has been answered (publish's writes go out together, so
					// only the commit waits for them all): change the k-th one's node under it.
					p := ops[k]
					if !strings.HasPrefix(p, "/") {
						p = "/local/domain/" + fmt.Sprint(guestID) + "/" + p
					}
					v, ok := r.xs.Read(p)
					if !ok {
						v = "conflict"
					}
					require.NoError(t, r.xs.Write(p, v))
					hit.Store(true)
				})
				conflicts := r.xs.Stats().Conflicts
				fn, rx := collector(4)
				r.echo()
				dev := r.open(t, Config{Queues: queues, Receive: fn})
				require.True(t, hit.Load(), "the transaction has fewer than %d operations", k+1)
				assert.Equal(t, conflicts+1, r.xs.Stats().Conflicts, "one conflict, one retry")
				sendEcho(t, dev, rx, 1514, byte(k))
				require.NoError(t, dev.Close())
				r.checkBaseline(t, base)
			})
		}
	}
}

// The backend closes at every point of the handshake: before each XenStore request Open makes,
// in turn, the backend goes Closing (the toolstack's online=0, a driver domain dying). Open
// must either connect a device that then passes traffic (reconnecting by itself if need be),
// or fail without waiting for its deadline, after which Open connects again.
func TestSimFaultDisconnectDuringHandshake(t *testing.T) {
	r := newRig(t, rigOpts{})
	tap := r.tap
	before := tap.requests()
	dev := r.open(t, Config{})
	n := tap.requests() - before
	require.NoError(t, dev.Close())
	require.Greater(t, n, 5)
	for k := range n {
		t.Run(fmt.Sprintf("before-request-%d", k), func(t *testing.T) {
			r := newRig(t, rigOpts{})
			tap := r.tap
			base := r.baseline(t)
			start := tap.requests()
			states := make(chan xenbus.State, 1)
			disconnected := make(chan struct{})
			var once sync.Once
			tap.setHook(func(h xenstore.Header, payload []byte) {
				if tap.requests()-start-1 == k {
					once.Do(func() {
						states <- r.be.State()
						r.be.Disconnect()
						close(disconnected)
					})
				}
			})
			fn, rx := dropCollector(4)
			r.echo()
			ctx, cancel := context.WithTimeout(context.Background(), hangDeadline)
			defer cancel()
			dev, err := Open(ctx, r.plat, Config{Receive: fn})
			tap.setHook(nil)
			if dev != nil {
				t.Cleanup(func() { _ = dev.Close() })
			}
			var at xenbus.State
			select {
			case at = <-states:
			default:
				t.Skip("Open made fewer requests this time")
			}
			if err != nil {
				t.Logf("backend %v: Open: %v", at, err)
				require.NoError(t, ctx.Err(), "Open waited for its deadline: %v", err)
				// The backend may still act on the Connected the failed attempt took back:
				// netback connects once it has walked back to InitWait, finds no rings, and
				// closes again. An Open that meets this fails as fast; the next one connects.
				for attempt := 2; ; attempt++ {
					dev, err = Open(hangCtx(t), r.plat, Config{Receive: fn})
					if err == nil {
						break
					}
					t.Logf("Open %d: %v", attempt, err)
					require.ErrorIs(t, err, xenbus.ErrBackendClosed, "Open %d after a failed one", attempt)
					require.Less(t, attempt, 3, "Open %d after a failed one", attempt)
				}
			} else {
				t.Logf("backend %v: Open connected", at)
			}
			// The request may be one the device makes after Open returned (its watch reading the
			// backend's Connected): the backend is then closing while the frame goes out.
			<-disconnected
			echoOnceUp(t, dev, rx, 1514, byte(k))
			require.NoError(t, dev.Close())
			// A backend acting late on a failed attempt's Connected may have mapped its rings
			// before the attempt took back their references: those grants end on the retry
			// timer once it lets go, as it did to serve the next connection.
			require.Eventually(t, func() bool { return r.guest.Grants.RetryDeferred() == 0 }, hangDeadline, tick,
				"grants still mapped by the backend")
			r.checkBaseline(t, base)
		})
	}
}

// The backend closes again at every point of the device's own reconnection (the supervisor's
// close and connect after a first Disconnect): the device must end up connected and passing
// traffic, with nothing leaked, whichever step the second close hits.
//
// A second close that lands while the frontend waits for the backend to finish closing (the
// backend already Closed and sent back to Closing) is waited out by the close's 10 s bound,
// as Linux netfront's xennet_bus_close would wait: the test takes half a minute, so -short
// skips it.
func TestSimFaultDisconnectDuringReconnect(t *testing.T) {
	if testing.Short() {
		t.Skip("half a minute: every step of a reconnection, some waiting out retries")
	}
	n := reconnectRequests(t)
	for k := range n {
		t.Run(fmt.Sprintf("before-request-%d", k), func(t *testing.T) {
			r := newRig(t, rigOpts{})
			tap := r.tap
			r.echo()
			base := r.baseline(t)
			fn, rx := collector(4)
			links := make(chan bool, 8)
			dev := r.open(t, Config{Receive: fn, Link: func(up bool) { links <- up }})
			start := tap.requests()
			var once sync.Once
			hit := make(chan xenbus.State, 1)
			tap.setHook(func(h xenstore.Header, payload []byte) {
				if tap.requests()-start-1 == k {
					once.Do(func() {
						hit <- r.be.State()
						r.be.Disconnect()
					})
				}
			})
			r.be.Disconnect()
			require.False(t, <-links)
			// Down and up until the device stays up with the backend connected.
			deadline := time.After(hangDeadline)
			for up := false; !up || r.be.State() != xenbus.XenbusStateConnected || dev.MAC() == nil; {
				select {
				case up = <-links:
				case <-time.After(10 * time.Millisecond):
				case <-deadline:
					t.Fatalf("not connected again; backend %v", r.be.State())
				}
			}
			tap.setHook(nil)
			select {
			case s := <-hit:
				t.Logf("second close with the backend %v; %d reconnections", s, dev.Reconnects())
			default:
				t.Skip("the reconnection made fewer requests this time")
			}
			require.NoError(t, dev.Err())
			sendEcho(t, dev, rx, 1514, byte(k))
			require.NoError(t, dev.Close())
			r.checkBaseline(t, base)
		})
	}
}
