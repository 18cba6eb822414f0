// Helpers that connect a xenstore.Client acting as the guest to a Server for a test, and clean
// up after it.

package xenstoretest

import (
	"encoding/binary"
	"testing"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// NewClient connects a client acting as the guest to s over net.Pipe. The client is closed,
// which ends the server side of the connection, when the test ends.
func (s *Server) NewClient(tb testing.TB) *xenstore.Client {
	tb.Helper()
	c, err := s.store.Client(s.domid)
	if err != nil {
		tb.Fatalf("xenstoretest: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// NewRingClient connects a client to s through an interface page and a pair of fake event
// channels, as a guest talks to xenstored. start sets every ring index before either side
// attaches, so tests can start near the u32 wrap. The page is returned for tests that
// tamper with it.
func (s *Server) NewRingClient(tb testing.TB, start uint32) (*xenstore.Client, []byte) {
	tb.Helper()
	page := make([]byte, 4096)
	for _, off := range []int{xenstore.InterfaceOffReqCons, xenstore.InterfaceOffReqProd,
		xenstore.InterfaceOffRspCons, xenstore.InterfaceOffRspProd} {
		binary.LittleEndian.PutUint32(page[off:], start)
	}
	guest, daemon := NewEventChannelPair(1, 2)
	stop := s.ServeRing(page, daemon)
	tr, err := xenstore.NewRingTransport(page, guest)
	if err != nil {
		stop()
		tb.Fatalf("NewRingTransport: %v", err)
	}
	c := xenstore.New(tr)
	tb.Cleanup(func() {
		_ = c.Close()
		stop()
	})
	return c, page
}

// ServeRing serves the guest on an interface page and the daemon's end of its event channel,
// until stop is called. The page's indices are used as found, like a guest's.
func (s *Server) ServeRing(page []byte, ev xen.EventChannel) (stop func()) {
	return s.store.ServeRing(s.domid, page, ev)
}
