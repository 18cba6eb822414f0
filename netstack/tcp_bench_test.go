// TCP bulk transfer through gVisor over netfront and the simulated Xen, guest to host and host
// to guest, with TSO and checksum offload and without.

package netstack_test

import (
	"context"
	"io"
	"math"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/internal/pattern"
	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/netstack"
	"github.com/tamaxen/tamaxen/netstack/hostnet"
	"github.com/tamaxen/tamaxen/netstack/netcfg"
	"github.com/tamaxen/tamaxen/xen/sim/machine"
)

// tcpChunk is what one op writes: one Write of 64 KiB on the sending side.
const tcpChunk = 64 << 10

// BenchmarkTCP is one connection each way, kept open across the benchmark's runs (so slow
// start is paid once), between the guest's stack and the host's: the whole hosted datapath,
// two gVisor stacks included. ns/op is per 64 KiB written.
func BenchmarkTCP(b *testing.B) {
	for _, c := range []struct {
		name string
		dev  netfront.Config
	}{
		{"offloads", netfront.Config{}},
		{"no-offloads", netfront.Config{NoGSO: true, NoCsumOffload: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			host, guest := newTCPBenchRig(b, c.dev)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			hl, err := host.Listen(9000)
			require.NoError(b, err)
			b.Cleanup(func() { _ = hl.Close() })
			gc, err := guest.DialContext(ctx, "tcp", "10.0.0.1:9000")
			require.NoError(b, err)
			hc, err := hl.Accept()
			require.NoError(b, err)
			toHost := newTCPStream(b, gc, hc)

			gl, err := guest.Listen("tcp", ":9001")
			require.NoError(b, err)
			b.Cleanup(func() { _ = gl.Close() })
			hc2, err := host.Dial(ctx, "tcp", netip.MustParseAddrPort("10.0.0.2:9001"))
			require.NoError(b, err)
			gc2, err := gl.Accept()
			require.NoError(b, err)
			toGuest := newTCPStream(b, hc2, gc2)

			b.Run("to-host", func(b *testing.B) { toHost.bench(b, guest.Device()) })
			b.Run("to-guest", func(b *testing.B) { toGuest.bench(b, guest.Device()) })
		})
	}
}

// newTCPBenchRig is the rig of stack_test.go for a benchmark: the guest at 10.0.0.2, the host
// stack at 10.0.0.1, on one simulated machine.
func newTCPBenchRig(b *testing.B, dev netfront.Config) (*hostnet.Host, *netstack.Stack) {
	m, err := machine.New(machine.Config{})
	require.NoError(b, err)
	host, err := hostnet.New(m.Backend, hostnet.Config{})
	if err != nil {
		m.Close()
		require.NoError(b, err)
	}
	nc, err := netcfg.Parse("ip=10.0.0.2/24")
	require.NoError(b, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	guest, err := netstack.Open(ctx, m.Platform, netstack.Config{Net: nc, Device: dev})
	if err != nil {
		host.Close()
		m.Close()
		require.NoError(b, err)
	}
	b.Cleanup(func() {
		_ = guest.Close()
		host.Close()
		m.Close()
	})
	return host, guest
}

// tcpStream is a connection written by the benchmark and drained by a goroutine of its own.
type tcpStream struct {
	w         net.Conn
	chunk     []byte
	got, want atomic.Int64
	done      chan struct{}
}

func newTCPStream(b *testing.B, w, r net.Conn) *tcpStream {
	s := &tcpStream{w: w, done: make(chan struct{}, 1), chunk: make([]byte, tcpChunk)}
	_, _ = io.ReadFull(pattern.NewReader(tcpChunk), s.chunk)
	s.want.Store(math.MaxInt64)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Read(buf)
			if s.got.Add(int64(n)) >= s.want.Load() {
				select {
				case s.done <- struct{}{}:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	b.Cleanup(func() {
		_ = w.Close()
		_ = r.Close()
		<-exited
	})
	return s
}

// bench writes b.N chunks and waits until the reader has them all.
func (s *tcpStream) bench(b *testing.B, dev *netfront.Device) {
	before := vifFrames(dev)
	b.SetBytes(tcpChunk)
	b.ReportAllocs()
	b.ResetTimer()
	s.want.Store(s.got.Load() + int64(b.N)*tcpChunk)
	for range b.N {
		if _, err := s.w.Write(s.chunk); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		b.Fatalf("received %d of %d bytes", s.got.Load(), s.want.Load())
	}
	b.StopTimer()
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(tcpChunk*8/ns, "Gbit/s")
	// Frames across the vif (both ways: data and ACKs) per 64 KiB: about 1 + ACKs with TSO and
	// GSO, 45 + ACKs without.
	b.ReportMetric(float64(vifFrames(dev)-before)/float64(b.N), "frames/op")
}

func vifFrames(dev *netfront.Device) uint64 {
	var n uint64
	for _, q := range dev.Stats() {
		n += q.TxPackets + q.RxPackets
	}
	return n
}
