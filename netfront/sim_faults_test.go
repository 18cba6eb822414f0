// Faults under traffic on the simulated Xen: a backend that stalls, a backend that closes
// mid-stream, and grant exhaustion at Open and on reconnect. Each fault must end with a device
// that works again or with a clear error, and with every grant and goroutine given back.

package netfront

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
)

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
