// The rig for end-to-end tests: the real netfront against the simulated Xen, xenstored and
// the netback model, all in one process.

package netfront_test

import (
	"context"
	"encoding/binary"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/sim"
	"github.com/tamaxen/tamaxen/xen/sim/machine"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
	"github.com/tamaxen/tamaxen/xen/sim/xenstored"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

const guestID = 7

// simRig is one guest with one vif served by a netback in dom0.
type simRig struct {
	m     *machine.Machine
	x     *sim.Xen
	dom0  *sim.Services
	guest *sim.Services
	xs    *xenstored.Store
	gxs   *xenstore.Client
	be    *netback.Backend
	plat  netfront.Platform
	// usedRefs is the number of grant refs in use before any device was opened.
	usedRefs int
}

func hangCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newSimRig boots the simulated host (xen/sim/machine) and starts the backend with bcfg.
// Cleanups run in reverse: the caller's device first, then the host.
func newSimRig(t testing.TB, bcfg netback.Config) *simRig {
	r, _ := newFaultRig(t, faultOpts{bcfg: &bcfg})
	return r
}

// open opens the device; Close is registered as a cleanup (a second Close is harmless).
func (r *simRig) open(t testing.TB, cfg netfront.Config) *netfront.Device {
	dev, err := netfront.Open(hangCtx(t), r.plat, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = dev.Close() })
	return dev
}

// echo makes the backend a loopback: every frame the guest sends comes back to it.
func (r *simRig) echo() {
	be := r.be
	be.SetDeliver(func(f netback.Frame) { _ = be.Inject(f) })
}

// got is a received frame, copied out of the callback.
type got struct {
	data []byte
	meta netfront.RxMeta
}

// collector returns a Receive callback that queues copies of the frames on a channel.
func collector(n int) (func([]byte, netfront.RxMeta), chan got) {
	ch := make(chan got, n)
	return func(b []byte, m netfront.RxMeta) {
		ch <- got{append([]byte(nil), b...), m}
	}, ch
}

func recv(t testing.TB, ch chan got) got {
	t.Helper()
	select {
	case g := <-ch:
		return g
	case <-hangCtx(t).Done():
		t.Fatal("no frame received")
		return got{}
	}
}

// frame builds a test frame of n bytes: broadcast dst, an experimental EtherType (no flow
// hash), then a pattern that depends on n and on seed.
func frame(n int, seed byte) []byte {
	f := make([]byte, n)
	fill(f, seed)
	return f
}

func fill(f []byte, seed byte) {
	for i := range f {
		f[i] = byte(i*7) + seed + byte(len(f))
	}
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x16, 0x3e, 0, 0, 1})
	if len(f) >= 14 {
		f[12], f[13] = 0x88, 0xb5
	}
}

// udp4 builds an IPv4/UDP frame of n bytes (n >= 42) with the given source port, so that
// flows hash to different queues.
func udp4(n int, sport uint16) []byte {
	f := frame(n, 0)
	f[12], f[13] = 0x08, 0x00
	f[14] = 0x45
	f[14+6], f[14+7] = 0x40, 0 // DF, not a fragment
	f[14+9] = 17
	copy(f[14+12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(f[34:], sport)
	binary.BigEndian.PutUint16(f[36:], 9)
	return f
}

// sumStats adds the queues' counters, every field of QueueStats (all of them uint64, as
// TestSumStatsAddsEveryCounter checks): a field left out would read as zero, and a wait for it
// to come down to zero would return at once.
func sumStats(s []netfront.QueueStats) (t netfront.QueueStats) {
	sum := reflect.ValueOf(&t).Elem()
	for _, q := range s {
		v := reflect.ValueOf(q)
		for i := range v.NumField() {
			sum.Field(i).SetUint(sum.Field(i).Uint() + v.Field(i).Uint())
		}
	}
	return t
}

// checkClean checks what Close must leave behind: every grant ended and its ref free, and the
// device's goroutines gone.
func (r *simRig) checkClean(t *testing.T, goroutines int) {
	t.Helper()
	require.Equal(t, r.usedRefs, r.refsInUse(), "grant refs not returned")
	// Eventually runs the condition on a goroutine of its own: one more than before. The
	// deadline only catches a leak; a loaded host may take seconds to run the last exits.
	ok := assert.Eventually(t, func() bool { return runtime.NumGoroutine() <= goroutines+1 },
		hangDeadline, 5*time.Millisecond, "goroutines left behind")
	if !ok {
		t.Logf("goroutines: %d, before: %d", runtime.NumGoroutine(), goroutines)
		buf := make([]byte, 1<<20)
		t.Logf("%s", buf[:runtime.Stack(buf, true)])
	}
}

// refsInUse is the guest's grant refs not free (the table grows, so Free alone cannot tell).
func (r *simRig) refsInUse() int {
	mapped, _ := r.guest.Grants.Frames()
	return int(mapped)*xen.PageSize/8 - r.guest.Grants.Free()
}

const (
	hangDeadline = 60 * time.Second
	tick         = time.Millisecond
)
