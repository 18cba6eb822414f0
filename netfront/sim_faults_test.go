// Fault injection on the simulated Xen: a backend that never answers or stalls, disconnects
// at every step of the handshake and under traffic, grant exhaustion, event storms and
// XenStore transaction conflicts. Each fault must end with a device that works again or with
// a clear error, and with every grant and goroutine given back.

package netfront

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/sim"
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

// sendEcho sends one frame through an echoing backend and waits for it to come back.
func sendEcho(t *testing.T, dev *Device, rx chan got, n int, seed byte) {
	t.Helper()
	f := frame(n, seed)
	require.NoError(t, dev.Send(hangCtx(t), f, TxMeta{}))
	g := recv(t, rx)
	require.Equal(t, f, g.data)
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

// txSteps follows the connect transaction, the one that publishes the rings (its first write
// names a ring reference or the queue count), operation by operation.
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
		if h.Type != xenstore.XS_WRITE || !(strings.HasSuffix(p, "/tx-ring-ref") || strings.HasSuffix(p, "/multi-queue-num-queues")) {
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

// XenStore transaction conflicts at every step of the connect transaction: after its k-th
// operation another domain changes the node that operation touched, so the commit fails with
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
					if !ok || len(ops) != k+1 || hit.Load() {
						return
					}
					// The k-th operation has been answered: change its node under it.
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

// backendTx is the number of frames the backend took from the guest, over every queue.
func backendTx(be *netback.Backend) (n uint64) {
	for _, q := range be.Stats().Queues {
		n += q.TxPackets
	}
	return n
}

// seqFrame is a 60..159-byte frame carrying a sequence number after its Ethernet header.
func seqFrame(i int) []byte {
	f := frame(60+i%100, byte(i))
	binary.BigEndian.PutUint32(f[14:], uint32(i))
	return f
}

// A backend that stops answering for seconds (a driver domain descheduled, a dom0 under
// load) with the TX ring full and RX frames waiting: nothing breaks, Send waits, and when the
// backend resumes every frame goes through, in order, with the counters back at rest.
func TestSimFaultStallReleased(t *testing.T) {
	stall := 2 * time.Second
	if testing.Short() {
		stall = 200 * time.Millisecond
	}
	r := newRig(t, rigOpts{})
	var mu sync.Mutex
	var seqs []uint32
	r.be.SetDeliver(func(f netback.Frame) {
		mu.Lock()
		seqs = append(seqs, binary.BigEndian.Uint32(f.Data[14:]))
		mu.Unlock()
	})
	base := r.baseline(t)
	fn, rx := collector(64)
	dev := r.open(t, Config{TxBuffers: 256, Receive: fn})
	const total, rxFrames = 400, 20
	require.Eventually(t, func() bool { return sumStats(dev.Stats()).RxPosted == 128 }, hangDeadline, tick)

	r.be.SetFault(netback.FaultStall)
	var sent atomic.Int64
	sendErr := make(chan error, 1)
	go func() {
		for i := range total {
			if err := dev.Send(hangCtx(t), seqFrame(i), TxMeta{}); err != nil {
				sendErr <- err
				return
			}
			sent.Add(1)
		}
		sendErr <- nil
	}()
	for i := range rxFrames {
		require.NoError(t, r.be.Inject(netback.Frame{Data: seqFrame(1000 + i)}))
	}
	// The ring fills: 256 one-slot frames in flight, the sender waits for room.
	require.Eventually(t, func() bool { return sumStats(dev.Stats()).TxInFlight == 256 }, hangDeadline, tick)
	time.Sleep(stall)
	assert.EqualValues(t, 256, sent.Load(), "Send returned without ring space")
	assert.NoError(t, dev.Err())
	assert.Len(t, rx, 0, "a stalled backend delivered a frame")
	mu.Lock()
	assert.Empty(t, seqs, "a stalled backend consumed a frame")
	mu.Unlock()

	r.be.SetFault(netback.FaultNone)
	require.NoError(t, <-sendErr)
	for i := range rxFrames {
		g := recv(t, rx)
		assert.EqualValues(t, 1000+i, binary.BigEndian.Uint32(g.data[14:]))
	}
	require.Eventually(t, func() bool {
		s := sumStats(dev.Stats())
		return s.TxInFlight == 0 && s.RxPosted == 128 && backendTx(r.be) == total
	}, hangDeadline, tick, "the counters do not come to rest")
	mu.Lock()
	for i, s := range seqs {
		require.EqualValues(t, i, s, "frames reordered")
	}
	mu.Unlock()
	s := sumStats(dev.Stats())
	assert.EqualValues(t, total, s.TxPackets)
	assert.EqualValues(t, rxFrames, s.RxPackets)
	assert.Zero(t, s.TxDropped+s.TxErrors+s.RxDropped+s.RxErrors+s.Violations)
	require.NoError(t, dev.Close())
	r.checkBaseline(t, base)
}

// The backend closes mid-stream, three times, under traffic both ways on two queues: the
// device goes down and up each time, senders see only ErrDisconnected meanwhile, traffic
// resumes, and the counters add up: whatever the backend took was sent, whatever came back
// was taken.
func TestSimFaultDisconnectUnderTraffic(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.echo()
	base := r.baseline(t)
	dev := r.openWatched(t)
	links, received := dev.links, &dev.received
	perConn := r.guest.Grants.InUse() - base.grants
	ctx, cancel := context.WithCancel(hangCtx(t))
	var wg sync.WaitGroup
	var ok, down atomic.Int64
	var bad atomic.Pointer[error]
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				err := dev.Send(ctx, udp4(60+i%1400, uint16(1000*w+i%64)), TxMeta{})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrDisconnected):
					down.Add(1)
					time.Sleep(time.Millisecond)
				case ctx.Err() != nil:
				default:
					bad.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	for cycle := range 3 {
		from := received.Load()
		require.Eventually(t, func() bool { return received.Load() > from+200 }, hangDeadline, tick,
			"traffic does not pass (cycle %d)", cycle)
		r.be.Disconnect()
		require.False(t, <-links, "link down")
		require.True(t, <-links, "link up again")
		require.EqualValues(t, cycle+1, dev.Reconnects())
		require.Equal(t, base.grants+perConn, r.guest.Grants.InUse(), "grants after reconnect %d", cycle)
	}
	from := received.Load()
	require.Eventually(t, func() bool { return received.Load() > from+200 }, hangDeadline, tick)
	cancel()
	wg.Wait()
	if p := bad.Load(); p != nil {
		t.Fatalf("Send: %v", *p)
	}
	require.NoError(t, dev.Err())
	// At rest: nothing in flight, every RX buffer posted, and the echoes the backend still had
	// queued delivered, so the counters and the callback's count no longer move apart. An echo
	// the backend took longer than the pause to hand over may still come after: the checks
	// below use the counters as they were found at rest, not read again.
	var s QueueStats
	require.Eventually(t, func() bool {
		a := sumStats(dev.Stats())
		time.Sleep(20 * time.Millisecond)
		s = sumStats(dev.Stats())
		return s.TxInFlight == 0 && s.RxPosted == 2*128 && s.RxPackets == a.RxPackets &&
			s.RxPackets == uint64(received.Load())
	}, hangDeadline, tick, "the rings do not come to rest")
	t.Logf("sent %d, refused while down %d, backend took %d, received %d", ok.Load(), down.Load(), backendTx(r.be), s.RxPackets)
	assert.EqualValues(t, ok.Load(), s.TxPackets)
	assert.LessOrEqual(t, backendTx(r.be), s.TxPackets)
	assert.LessOrEqual(t, s.RxPackets, backendTx(r.be))
	assert.Zero(t, s.Violations+s.RxErrors+s.RxDropped+s.TxErrors)
	require.NoError(t, dev.Close())
	r.checkBaseline(t, base)
}

// Grant exhaustion: a guest whose grant table is one frame (504 references) cannot give a
// device all the references its queues need (2 rings and 192 buffers each). Open fails with
// ErrNoRefs, having given back what it took, and succeeds once references are free.
func TestSimFaultGrantExhaustionOpen(t *testing.T) {
	r := newRig(t, rigOpts{grants: gnttab.Config{MaxFrames: 1}})
	base := r.baseline(t)
	fn, rx := collector(4)
	r.echo()
	ctx := hangCtx(t)

	// Four queues need 776 references.
	_, err := Open(ctx, r.plat, Config{Queues: 4, Receive: fn})
	require.ErrorIs(t, err, gnttab.ErrNoRefs)
	r.checkBaseline(t, base)
	st, _ := r.xs.Read(frontPath() + "/state")
	assert.NotEqual(t, "4", st, "the frontend says Connected")

	// Another user holds most references: one queue (194) does not fit either.
	held, err := r.guest.Grants.AllocRefs(400)
	require.NoError(t, err)
	_, err = Open(ctx, r.plat, Config{Receive: fn})
	require.ErrorIs(t, err, gnttab.ErrNoRefs)
	require.Equal(t, base.grants+400, r.guest.Grants.InUse(), "the failed Open kept references")

	// Once they are given back, the same Open works.
	for _, ref := range held {
		require.NoError(t, r.guest.Grants.FreeRef(ref))
	}
	dev, err := Open(ctx, r.plat, Config{Queues: 2, Receive: fn})
	require.NoError(t, err)
	sendEcho(t, dev, rx, 1514, 1)
	require.NoError(t, dev.Close())
	r.checkBaseline(t, base)
}

// Grant exhaustion on reconnect: the backend comes back offering more queues than the guest
// has references for. Each reconnection attempt fails with ErrNoRefs and gives its references
// back, the device stays down without breaking, and connects once references are free.
func TestSimFaultGrantExhaustionReconnect(t *testing.T) {
	bcfg := netback.DefaultConfig()
	bcfg.MaxQueues = 2
	r := newRig(t, rigOpts{grants: gnttab.Config{MaxFrames: 1}, backend: &bcfg})
	require.NoError(t, r.xs.Write(backPath()+"/multi-queue-max-queues", "1"))
	r.echo()
	base := r.baseline(t)
	fn, rx := collector(4)
	links := make(chan bool, 4)
	logs := make(chan string, 16)
	dev := r.open(t, Config{Queues: 2, Receive: fn, Link: func(up bool) { links <- up },
		Logf: func(format string, args ...any) {
			select {
			case logs <- fmt.Sprintf(format, args...):
			default:
			}
		}})
	require.Equal(t, 1, dev.Features().Queues)
	held, err := r.guest.Grants.AllocRefs(200) // 504 - 194 - 200: 110 left
	require.NoError(t, err)

	// The driver domain restarts with two queues: 388 references, 304 free after the close.
	require.NoError(t, r.xs.Write(backPath()+"/multi-queue-max-queues", "2"))
	r.be.Disconnect()
	require.False(t, <-links)
	var msg string
	select {
	case msg = <-logs:
	case <-hangCtx(t).Done():
		t.Fatal("no failed reconnection reported")
	}
	assert.Contains(t, msg, gnttab.ErrNoRefs.Error())
	assert.Equal(t, base.grants+200, r.guest.Grants.InUse(), "a failed attempt kept references")
	assert.NoError(t, dev.Err(), "running out of references broke the device")
	assert.ErrorIs(t, dev.Send(hangCtx(t), frame(60, 0), TxMeta{}), ErrDisconnected)

	for _, ref := range held {
		require.NoError(t, r.guest.Grants.FreeRef(ref))
	}
	require.True(t, <-links, "connected once references were free")
	require.Equal(t, 2, dev.Features().Queues)
	sendEcho(t, dev, rx, 1514, 2)
	require.NoError(t, dev.Close())
	r.checkBaseline(t, base)
}

// guestPorts are the guest's event channels of the vif, as it published them.
func guestPorts(t *testing.T, r *rig) []xen.Port {
	var ports []xen.Port
	for _, key := range []string{"event-channel", "event-channel-tx", "event-channel-rx"} {
		if v, ok := r.xs.Read(frontPath() + "/" + key); ok {
			var p uint32
			_, err := fmt.Sscan(v, &p)
			require.NoError(t, err)
			ports = append(ports, xen.Port(p))
		}
	}
	require.NotEmpty(t, ports)
	return ports
}

// dom0Port finds dom0's end of the interdomain channel bound to the guest's port.
func dom0Port(t *testing.T, r *rig, guestPort xen.Port) xen.Port {
	for p := xen.Port(1); p < 1024; p++ {
		st, err := r.dom0.Domain.PortStatus(p)
		if err == nil && st.Status == sim.EVTCHNSTAT_interdomain && st.Remote == guestID && st.RemotePort == guestPort {
			return p
		}
	}
	t.Fatalf("no dom0 port bound to guest port %d", guestPort)
	return 0
}

// An event storm: the backend notifies the guest's event channels in a tight loop, with
// nothing on the rings. On one CPU, as a TamaGo guest has, the guest's other goroutines (a
// ticker) keep running and the device keeps passing traffic; the storm costs no violation.
// The ticker's count and worst lateness are logged, and only its progress is asserted: the
// storm lasts at least its time and then until the ticker, the traffic and the storm itself
// have each come so far (a loaded host gives them less of that time), or a hang deadline.
func TestSimFaultEventStorm(t *testing.T) {
	for _, split := range []bool{true, false} {
		t.Run(fmt.Sprintf("split=%v", split), func(t *testing.T) {
			storm := time.Second
			if testing.Short() {
				storm = 200 * time.Millisecond
			}
			r := newRig(t, rigOpts{})
			r.echo()
			base := r.baseline(t)
			fn, rx := collector(4)
			dev := r.open(t, Config{NoSplitEventChannels: !split, Receive: fn})
			var ports []xen.Port
			for _, p := range guestPorts(t, r) {
				ports = append(ports, dom0Port(t, r, p))
			}
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

			ctx, cancel := context.WithCancel(hangCtx(t))
			defer cancel()
			start := time.Now()
			var wg sync.WaitGroup
			var sends atomic.Int64
			notifyLoop(ctx, &wg, r, ports, &sends)
			// The guest's other work: a 10 ms ticker, and how late it runs.
			var tk lateTicker
			tk.run(ctx, &wg)
			const minSends, minEchoes = 1000, 5
			minTicks := max(int64(storm/(10*time.Millisecond)/20), 2)
			echoes := 0
			for ; time.Since(start) < storm || sends.Load() <= minSends || tk.ticks.Load() < minTicks || echoes <= minEchoes; echoes++ {
				if time.Since(start) > hangDeadline {
					break
				}
				sendEcho(t, dev, rx, 60+echoes%1400, byte(echoes))
			}
			storm = time.Since(start)
			cancel()
			wg.Wait()
			events := r.guest.Events.Stats().Events
			st := sumStats(dev.Stats())
			t.Logf("storm of %v: %d notifications, %d events delivered, %d spurious wakeups, %d pauses; %d echoes; %d ticks, worst lateness %v",
				storm, sends.Load(), events, st.Spurious, st.Throttled, echoes, tk.ticks.Load(), time.Duration(tk.worst.Load()))
			assert.Greater(t, sends.Load(), int64(minSends), "no storm")
			// Progress, not punctuality: on a loaded host the ticker runs late and drops ticks
			// (the lateness is logged above), but it must not stop.
			assert.GreaterOrEqual(t, tk.ticks.Load(), minTicks, "the ticker starved")
			assert.Greater(t, echoes, minEchoes, "traffic starved")
			require.NoError(t, dev.Err())
			assert.Zero(t, sumStats(dev.Stats()).Violations)

			// With no traffic between its events the storm is seen for what it is: the
			// driver pauses (TestStormThrottled bounds its pace on a virtual clock).
			ctx, cancel = context.WithCancel(hangCtx(t))
			notifyLoop(ctx, &wg, r, ports, nil)
			assert.Eventually(t, func() bool { return sumStats(dev.Stats()).Throttled > 0 }, hangDeadline, tick,
				"the storm was not throttled")
			cancel()
			wg.Wait()
			sendEcho(t, dev, rx, 1514, 0)
			require.NoError(t, dev.Close())
			r.checkBaseline(t, base)
		})
	}
}

// notifyLoop has dom0 notify each of ports in a tight loop, one goroutine per port, until ctx
// ends; sends, if not nil, counts the notifications that went out.
func notifyLoop(ctx context.Context, wg *sync.WaitGroup, r *rig, ports []xen.Port, sends *atomic.Int64) {
	for _, p := range ports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hv := r.dom0.Domain.Hypervisor()
			for ctx.Err() == nil {
				if evtchn.Send(hv, p) == nil && sends != nil {
					sends.Add(1)
				}
			}
		}()
	}
}

// lateTicker is a 10 ms ticker that counts its ticks and its worst lateness.
type lateTicker struct{ ticks, worst atomic.Int64 }

// run ticks on a goroutine of its own until ctx ends.
func (k *lateTicker) run(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		const period = 10 * time.Millisecond
		tk := time.NewTicker(period)
		defer tk.Stop()
		last := time.Now()
		for {
			select {
			case now := <-tk.C:
				if late := now.Sub(last) - period; late > time.Duration(k.worst.Load()) {
					k.worst.Store(int64(late))
				}
				last = now
				k.ticks.Add(1)
			case <-ctx.Done():
				return
			}
		}
	}()
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

// Resume after xl restore (machine.Restore): Xen forgot every port and grant of the old
// domain, the old backend vanished without a word, and a new one waits in InitWait on a vif
// the toolstack wrote afresh. Device.Resume drops the old connection without a closing
// handshake and without touching Xen with its old ports, which by then name another device's
// channels, and connects to the new backend; traffic passes again and nothing leaks.
func TestSimResumeInNewDomain(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.echo()
	base := r.baseline(t)
	dev := r.openWatched(t)
	links := dev.links
	perConn := r.guest.Grants.InUse() - base.grants
	ctx := hangCtx(t)
	sendEchoes(t, dev, 100)

	for cycle := range 2 {
		var oldPorts []xen.Port
		r.xs.Walk(frontPath(), func(path, value string, _ []xenstore.Perm) {
			if strings.Contains(path, "event-channel") {
				p, err := strconv.Atoi(value)
				require.NoError(t, err)
				oldPorts = append(oldPorts, xen.Port(p))
			}
		})
		require.Len(t, oldPorts, 4, "two queues, split channels")

		require.NoError(t, r.m.Restore(ctx))
		r.be = r.m.Backend
		r.echo()
		// Another device, served by another driver domain, binds channels before the vif is
		// resumed: they get the lowest free ports, up to the numbers the old connection's
		// channels had.
		const otherBackend = 3
		others := map[xen.Port]*evtchn.Channel{}
		for top := slices.Max(oldPorts); ; {
			ch, err := r.guest.Events.AllocUnbound(otherBackend)
			require.NoError(t, err)
			others[ch.Port()] = ch
			if ch.Port() >= top {
				break
			}
		}
		for _, p := range oldPorts {
			require.Contains(t, others, p)
		}

		dev.Resume()
		require.False(t, <-links, "link down on resume")
		require.True(t, <-links, "link up with the new backend")
		require.EqualValues(t, cycle+1, dev.Reconnects())
		require.Equal(t, xenbus.XenbusStateConnected, r.be.State())
		for p, ch := range others {
			st, err := r.guest.Domain.PortStatus(p)
			require.NoError(t, err)
			require.Equal(t, sim.PortStatus{Status: sim.EVTCHNSTAT_unbound, Remote: otherBackend}, st,
				"port %d, another device's, was touched", p)
			require.NoError(t, ch.Close())
		}
		require.Equal(t, base.grants+perConn, r.guest.Grants.InUse(), "grants after resume %d", cycle)
		sendEchoes(t, dev, 100)
	}
	s := sumStats(dev.Stats())
	assert.Zero(t, s.Violations+s.RxErrors+s.TxErrors)
	require.NoError(t, dev.Err())
	require.NoError(t, dev.Close())
	r.checkBaseline(t, base)
	assert.Empty(t, dev.logs(), "every reconnection should succeed at once")
}

// A Resume while the device is between connections (the backend away) is harmless: the next
// connection is made afresh and kept.
func TestSimResumeWhileDisconnected(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.echo()
	base := r.baseline(t)
	links := make(chan bool, 16)
	dev := r.open(t, Config{Link: func(up bool) { links <- up }})
	r.be.Disconnect()
	require.False(t, <-links)
	dev.Resume()
	require.True(t, <-links, "reconnects once the backend is back")
	select {
	case up := <-links:
		t.Fatalf("the connection made after Resume was dropped (link %v)", up)
	case <-time.After(100 * time.Millisecond):
	}
	require.NoError(t, dev.Send(hangCtx(t), udp4(100, 1), TxMeta{}))
	require.NoError(t, dev.Close())
	r.checkBaseline(t, base)
}

// A Resume that finds the connection made in the current domain (its event channels are not
// stale) keeps it, and the device goes on following the backend: a close after it is met
// with a reconnection as before.
func TestSimResumeKeepsCurrentConnection(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.echo()
	base := r.baseline(t)
	dev := r.openWatched(t)
	dev.Resume()
	select {
	case up := <-dev.links:
		t.Fatalf("a connection of the current domain was dropped on Resume (link %v)", up)
	case <-time.After(100 * time.Millisecond):
	}
	sendEchoes(t, dev, 10)
	r.be.Disconnect()
	require.False(t, nextLink(t, dev.links), "the backend's close is still seen")
	require.True(t, nextLink(t, dev.links))
	sendEchoes(t, dev, 10)
	assert.EqualValues(t, 1, dev.Reconnects())
	require.NoError(t, dev.Close())
	r.checkBaseline(t, base)
}

// xl save and xl restore while the vif is detached (the device waiting for it to come back):
// the reconnection attempt in progress loses its XenStore requests and watches to the
// suspension, yet the device connects to the vif the restored domain has, once resumed, and
// nothing leaks.
func TestSimRestoreWhileDetached(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.echo()
	base := r.baseline(t)
	dev := r.openWatched(t)
	ctx := hangCtx(t)

	// xl network-detach: the backend closes, then the toolstack removes the vif.
	r.be.Disconnect()
	require.False(t, <-dev.links)
	require.NoError(t, r.m.Backend.Close())
	r.m.Backend = nil
	require.NoError(t, r.xs.Rm(frontPath()))
	require.NoError(t, r.xs.Rm(backPath()))
	time.Sleep(50 * time.Millisecond) // the device is looking for its vif again

	require.NoError(t, r.m.Restore(ctx))
	r.be = r.m.Backend
	r.echo()
	dev.Resume()
	require.True(t, <-dev.links, "connected to the restored domain's vif")
	// The connection was made in the new domain, even if the attempt began before: kept.
	select {
	case up := <-dev.links:
		t.Fatalf("the new domain's connection was dropped (link %v)", up)
	case <-time.After(100 * time.Millisecond):
	}
	require.Equal(t, xenbus.XenbusStateConnected, r.be.State())
	sendEchoes(t, dev, 10)
	require.NoError(t, dev.Err())
	require.NoError(t, dev.Close())
	r.checkBaseline(t, base)
}

// sendEchoes sends n frames through an echoing backend and waits for them to come back.
func sendEchoes(t *testing.T, dev *watchedDev, n int) {
	t.Helper()
	from := dev.received.Load()
	for i := range n {
		require.NoError(t, dev.Send(hangCtx(t), udp4(60+i, uint16(i)), TxMeta{}))
	}
	require.Eventually(t, func() bool { return dev.received.Load() >= from+int64(n) }, hangDeadline, tick)
}

// On Xen the restored domain has a new domid, so the backend directory the device watches is
// the old domain's, and XenStore's resume fires the watch, which finds it gone, possibly before
// anyone calls Resume. A connection made before the suspension (its channels are stale) is then
// dropped without a word as on Resume: no closing handshake, which would go to the frontend
// directory of the new domain's vif. Here the old directory vanishing is the vif removed after
// the restore, and added again.
func TestSimRestoreBackendGoneBeforeResume(t *testing.T) {
	r := newRig(t, rigOpts{})
	tap := r.tap
	r.echo()
	base := r.baseline(t)
	dev := r.openWatched(t)
	sendEchoes(t, dev, 10)
	require.NoError(t, r.m.Restore(hangCtx(t)))

	var handshake atomic.Pointer[string]
	tap.setHook(func(h xenstore.Header, payload []byte) {
		p, v, _ := strings.Cut(string(payload), "\x00")
		if h.Type == xenstore.XS_WRITE && strings.HasSuffix(p, "device/vif/0/state") && (v == "5" || v == "6") {
			handshake.CompareAndSwap(nil, &p)
		}
	})
	require.NoError(t, r.m.Backend.Close())
	r.m.Backend = nil
	require.NoError(t, r.xs.Rm(frontPath()))
	require.NoError(t, r.xs.Rm(backPath()))
	require.False(t, <-dev.links, "the stale connection dropped")

	require.NoError(t, r.xs.AddVif(guestID, 0, "00:16:3e:5a:11:01", 0))
	be, err := netback.New(r.dom0, r.xs, guestID, 0, netback.DefaultConfig())
	require.NoError(t, err)
	r.m.Backend, r.be = be, be
	r.echo()
	require.True(t, <-dev.links, "connected to the new vif without Resume")
	tap.setHook(nil)
	if p := handshake.Load(); p != nil {
		t.Fatalf("the stale connection closed with a handshake (%s)", *p)
	}
	sendEchoes(t, dev, 10)
	assert.EqualValues(t, 1, dev.Reconnects())
	require.NoError(t, dev.Err())
	require.NoError(t, dev.Close())
	r.checkBaseline(t, base)
	assert.Empty(t, dev.logs())
}
