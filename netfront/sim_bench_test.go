// Send and receive through the simulated Xen: the guest's frame goes out on TX, the echoing
// backend hands it back on RX.

package netfront

import (
	"context"
	"testing"

	"github.com/tamaxen/tamaxen/xen/sim/netback"
)

func BenchmarkSimEcho(b *testing.B) {
	for _, bc := range []struct {
		name string
		n    int
		m    TxMeta
	}{
		{"64B", 64, TxMeta{}},
		{"1500B", 1500, TxMeta{}},
		{"64KiB-GSO", 65535, TxMeta{GSOType: GSOTCPv4, GSOSize: 1448, CsumBlank: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := netback.DefaultConfig()
			cfg.RxQueueLen = 64
			r := newRig(b, rigOpts{backend: &cfg})
			r.echo()
			const window = 16
			credit := make(chan struct{}, window)
			dev := r.open(b, Config{Receive: func([]byte, RxMeta) { <-credit }})
			f := frame(bc.n, 0)
			ctx := context.Background()
			b.SetBytes(int64(bc.n))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				credit <- struct{}{}
				if err := dev.Send(ctx, f, bc.m); err != nil {
					b.Fatal(err)
				}
			}
			for range window { // wait for the last frames to come back
				credit <- struct{}{}
			}
		})
	}
}
