// Datapath benchmarks: TX and RX through the simulated netback with frames in flight, a
// ping-pong round trip, and this host's memmove for the same sizes as the yardstick.

package netfront

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen/netif"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
)

// benchSizes are the frame sizes measured (whole Ethernet frames): the smallest frame, a full
// 1500-byte MTU one, and the largest TSO frame (17 slots with its GSO extra).
var benchSizes = []struct {
	name string
	n    int
	gso  bool
}{
	{"64B", 64, false},
	{"1500B", 1500, false},
	{"64KiB-GSO", 65535, true},
}

// How many times each path copies every byte of a frame; the ratio to memmove is for one
// copy, so a path's ceiling is about 1/copies of it.
//
// TX: netfront gathers the frame into its granted pages (1); the hypervisor's grant copy moves
// each slot into dom0's bounce page (2); netback appends the bounce page to the vif's frame
// buffer handed to Deliver (3). Real netback grant-copies into the skb directly: 2 copies.
//
// RX: Inject copies the frame into the queue's RX item (1), as Linux's stack has it in an skb;
// netback copies the item into its bounce pages (2); the grant copy moves them into the pages
// the guest posted (3); netfront gathers the slots into the frame handed to Receive (4). Real
// netback grant-copies from the skb's pages: 2 copies past the skb.
const (
	txCopies = 3
	rxCopies = 4
)

// benchWindow is how many injected frames may wait for the guest on RX: at most the backend's
// RxQueueLen (64 by default), so Inject never finds the queue full.
const benchWindow = 32

// benchHang bounds a batch (and a ping-pong run): a hang fails the benchmark, not the binary.
const benchHang = 60 * time.Second

func BenchmarkSimTX(b *testing.B) {
	for _, queues := range []int{1, 2} {
		for _, s := range benchSizes {
			b.Run(fmt.Sprintf("q%d/%s", queues, s.name), func(b *testing.B) { benchTX(b, queues, s.n, s.gso) })
		}
	}
}

func BenchmarkSimRX(b *testing.B) {
	for _, queues := range []int{1, 2} {
		for _, s := range benchSizes {
			b.Run(fmt.Sprintf("q%d/%s", queues, s.name), func(b *testing.B) { benchRX(b, queues, s.n, s.gso) })
		}
	}
}

// BenchmarkSimPingPong is one frame at a time: Send, the backend echoes it with Inject, and
// the next frame goes when Receive has it. ns/op is the round trip.
func BenchmarkSimPingPong(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			r := newRig(b, rigOpts{})
			r.echo()
			// back says true for an echo, false when the hang watchdog fires: the round trip
			// waits on one channel, not in a select with a timer's channel, which would add
			// the harness's own cost (about 100 ns here) to every round trip.
			back := make(chan bool, 1)
			dev := r.open(b, Config{Receive: func([]byte, RxMeta) { back <- true }})
			f, m := benchFrame(s.n, 0, 1), benchMeta(s.gso)
			ctx := context.Background()
			timer := time.AfterFunc(benchHang, func() { back <- false })
			defer timer.Stop()
			once := func() {
				if err := dev.Send(ctx, f, m); err != nil {
					b.Fatal(err)
				}
				if !<-back {
					b.Fatal("no echo")
				}
			}
			for range 300 { // every buffer on both sides (128 posted RX pages) used once
				once()
			}
			b.ReportAllocs()
			timer.Reset(benchHang)
			a := countAllocs()
			b.ResetTimer()
			for range b.N {
				once()
			}
			b.StopTimer()
			a.report(b)
			b.ReportMetric(float64(txCopies+rxCopies), "copies")
		})
	}
}

// BenchmarkMemmove is copy() of the benchmark sizes between two buffers that stay in cache.
func BenchmarkMemmove(b *testing.B) {
	for _, s := range benchSizes {
		b.Run(s.name, func(b *testing.B) {
			src, dst := make([]byte, s.n), make([]byte, s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for range b.N {
				copy(dst, src)
			}
			b.StopTimer()
			reportPackets(b, s.n, 1, float64(b.Elapsed().Nanoseconds())/float64(b.N))
		})
	}
}

// benchTX sends frames with Device.Send from one goroutine per queue (each its own flow) and
// counts them in the backend's Deliver callback. Send blocks while the TX ring is full, so the
// ring stays full: TxBuffers pages (64 per queue) of frames in flight.
func benchTX(b *testing.B, queues, n int, gso bool) {
	mm := memmoveNs(n) // before the rig's goroutines exist
	r := newRig(b, rigOpts{})
	var delivered, want atomic.Int64
	done := make(chan struct{}, 1)
	r.be.SetDeliver(func(netback.Frame) {
		if delivered.Add(1) == want.Load() {
			done <- struct{}{}
		}
	})
	dev := r.open(b, Config{Queues: queues})
	require.Equal(b, queues, dev.Features().Queues)
	m := benchMeta(gso)
	frames := make([][]byte, queues)
	for q := range frames {
		frames[q] = benchFrame(n, q, queues)
	}
	p := newPump(b, queues, func(ctx context.Context, q int) error { return dev.Send(ctx, frames[q], m) })
	timer := time.NewTimer(benchHang)
	defer timer.Stop()
	batch := func(count int) {
		want.Store(delivered.Load() + int64(count))
		timer.Reset(benchHang)
		p.run(count)
		p.wait(b, done, timer, func() string { return fmt.Sprintf("delivered %d of %d frames", delivered.Load(), want.Load()) })
	}
	batch(200 * queues) // every page, id and slot used once
	checkSpread(b, dev, func(s QueueStats) uint64 { return s.TxPackets })

	b.SetBytes(int64(n))
	b.ReportAllocs()
	a := countAllocs()
	b.ResetTimer()
	batch(b.N)
	b.StopTimer()
	a.report(b)
	reportPackets(b, n, txCopies, mm)
}

// benchRX injects frames into the backend from one goroutine per queue (each its own flow,
// so netback's flow hash spreads them) and counts them in netfront's Receive callback. A
// frame takes a credit before Inject and Receive returns it: benchWindow frames in flight.
func benchRX(b *testing.B, queues, n int, gso bool) {
	mm := memmoveNs(n) // before the rig's goroutines exist
	r := newRig(b, rigOpts{})
	credits := make(chan struct{}, benchWindow)
	var received, want atomic.Int64
	done := make(chan struct{}, 1)
	dev := r.open(b, Config{Queues: queues, Receive: func([]byte, RxMeta) {
		<-credits
		if received.Add(1) == want.Load() {
			done <- struct{}{}
		}
	}})
	require.Equal(b, queues, dev.Features().Queues)
	require.Eventually(b, func() bool { return r.be.Queues() == queues }, benchHang, tick)
	m := benchMeta(gso)
	frames := make([]netback.Frame, queues)
	for q := range frames {
		frames[q] = netback.Frame{Data: benchFrame(n, q, queues), CsumBlank: m.CsumBlank,
			DataValidated: m.CsumBlank, GSOType: m.GSOType, GSOSize: m.GSOSize}
	}
	p := newPump(b, queues, func(ctx context.Context, q int) error {
		select {
		case credits <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := r.be.Inject(frames[q]); err != nil {
			<-credits
			return err
		}
		return nil
	})
	timer := time.NewTimer(benchHang)
	defer timer.Stop()
	batch := func(count int) {
		want.Store(received.Load() + int64(count))
		timer.Reset(benchHang)
		p.run(count)
		p.wait(b, done, timer, func() string { return fmt.Sprintf("received %d of %d frames", received.Load(), want.Load()) })
	}
	batch(200 * queues) // every RX item, bounce page and posted buffer used once
	checkSpread(b, dev, func(s QueueStats) uint64 { return s.RxPackets })

	b.SetBytes(int64(n))
	b.ReportAllocs()
	a := countAllocs()
	b.ResetTimer()
	batch(b.N)
	b.StopTimer()
	a.report(b)
	reportPackets(b, n, rxCopies, mm)
}

// reportPackets adds the table's metrics to a benchmark whose op is one frame of n bytes.
// x-memmove is the path's byte rate over memmove's for frames of the same size.
func reportPackets(b *testing.B, n, copies int, memmoveNs float64) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(1e9/ns, "pkts/s")
	b.ReportMetric(float64(n)*8/ns, "Gbit/s")
	b.ReportMetric(float64(copies), "copies")
	b.ReportMetric(memmoveNs/ns, "x-memmove")
}

// allocCount is the process's allocation count at the start of the timed part. go test prints
// allocs/op truncated to an integer (even when a benchmark reports its own), which hides an
// allocation made every other frame: mallocs/op is the exact figure.
type allocCount struct{ mallocs, bytes uint64 }

func countAllocs() allocCount {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return allocCount{ms.Mallocs, ms.TotalAlloc}
}

// report adds mallocs/op and mbytes/op, the allocations since countAllocs per op; call it with
// the timer stopped.
func (a allocCount) report(b *testing.B) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.Mallocs-a.mallocs)/float64(b.N), "mallocs/op")
	b.ReportMetric(float64(ms.TotalAlloc-a.bytes)/float64(b.N), "mbytes/op")
}

// checkSpread fails the benchmark if a queue carried nothing: the flows did not spread.
func checkSpread(b *testing.B, dev *Device, count func(QueueStats) uint64) {
	for i, s := range dev.Stats() {
		if count(s) == 0 {
			b.Fatalf("queue %d carried no frame: %+v", i, dev.Stats())
		}
	}
}

func benchMeta(gso bool) TxMeta {
	if !gso {
		return TxMeta{}
	}
	return TxMeta{GSOType: GSOTCPv4, GSOSize: 1448, CsumBlank: true}
}

// benchFrame builds an IPv4/TCP frame of n bytes (n >= 54) whose source port makes its flow
// hash pick queue q of queues, in netfront's TX and netback's RX alike.
func benchFrame(n, q, queues int) []byte {
	f := frame(n, 0)
	f[12], f[13] = 0x08, 0x00
	ip := f[14:]
	clear(ip[:40])
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(n-14))
	ip[8], ip[9] = 64, 6
	copy(ip[12:], []byte{10, 0, 0, 2, 10, 0, 0, 1})
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[2:], 80)
	tcp[12] = 5 << 4
	for sport := uint16(40000); ; sport++ {
		binary.BigEndian.PutUint16(tcp[0:], sport)
		if queues <= 1 || int(netif.FlowHash(f)%uint32(queues)) == q {
			return f
		}
	}
}

// pump runs one goroutine per flow, started before the timer so that the measured part
// starts none; start has them call fn a given number of times between them. fn's ctx ends at
// cleanup, which a failed benchmark reaches with calls still blocked.
type pump struct {
	start  []chan int
	wg     sync.WaitGroup
	err    atomic.Pointer[error]
	failed chan struct{} // closed by the first error
	once   sync.Once
}

func newPump(b *testing.B, flows int, fn func(ctx context.Context, flow int) error) *pump {
	p := &pump{failed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	var exited sync.WaitGroup
	b.Cleanup(func() { cancel(); exited.Wait() })
	for i := range flows {
		c := make(chan int)
		p.start = append(p.start, c)
		exited.Add(1)
		go func() {
			defer exited.Done()
			for {
				select {
				case k := <-c:
					for range k {
						if err := fn(ctx, i); err != nil {
							p.fail(err)
							break
						}
					}
					p.wg.Done()
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	return p
}

// fail records the first error. A function of its own: taking the address of the loop's err
// would move it to the heap, one allocation per call.
func (p *pump) fail(err error) {
	p.once.Do(func() {
		p.err.Store(&err)
		close(p.failed)
	})
}

// run has the flows call fn total times between them, and returns at once.
func (p *pump) run(total int) {
	k := len(p.start)
	p.wg.Add(k)
	for i, c := range p.start {
		n := total / k
		if i < total%k {
			n++
		}
		c <- n
	}
}

// wait waits for done (the last frame arrived), an error, or the hang deadline; then for the
// flows to finish their calls.
func (p *pump) wait(b *testing.B, done <-chan struct{}, timer *time.Timer, progress func() string) {
	select {
	case <-done:
	case <-p.failed:
		b.Fatal(*p.err.Load())
	case <-timer.C:
		b.Fatalf("stuck: %s", progress())
	}
	p.wg.Wait()
}

// memmoveNs is the fastest of several timings of copy() of n bytes between buffers in cache,
// in ns: the yardstick x-memmove divides by, measured once per size and process.
func memmoveNs(n int) float64 {
	memmoveMu.Lock()
	defer memmoveMu.Unlock()
	if ns, ok := memmoveCache[n]; ok {
		return ns
	}
	src, dst := make([]byte, n), make([]byte, n)
	reps := max(1, (32<<20)/n) // about 32 MiB a timing
	best := 0.0
	for range 10 {
		t := time.Now()
		for range reps {
			copy(dst, src)
		}
		if ns := float64(time.Since(t).Nanoseconds()) / float64(reps); best == 0 || ns < best {
			best = ns
		}
	}
	memmoveCache[n] = best
	return best
}

var (
	memmoveMu    sync.Mutex
	memmoveCache = map[int]float64{}
)
