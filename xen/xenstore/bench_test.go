// Benchmarks of a request round trip over each transport.

package xenstore_test

import (
	"context"
	"testing"

	"github.com/tamaxen/tamaxen/xen/sim/xenstoretest"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

func BenchmarkRead(b *testing.B) {
	for _, tc := range []struct {
		name string
		dial func(tb testing.TB, srv *xenstoretest.Server) *xenstore.Client
	}{
		{"pipe", func(tb testing.TB, srv *xenstoretest.Server) *xenstore.Client { return srv.NewClient(tb) }},
		{"ring", func(tb testing.TB, srv *xenstoretest.Server) *xenstore.Client {
			c, _ := srv.NewRingClient(tb, 0)
			return c
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv := xenstoretest.NewServer(testDomID, "guest")
			c := tc.dial(b, srv)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Read(ctx, "name"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
