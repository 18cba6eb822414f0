// Fuzzing the daemon with what a guest may write on its ring: any request must be answered or
// refused, never crash the daemon.

package xenstored

import (
	"testing"

	"github.com/tamaxen/tamaxen/xen/xenstore"
)

func FuzzRequest(f *testing.F) {
	f.Add(uint32(xenstore.XS_WRITE), uint32(0), []byte("data/x\x00value"))
	f.Add(uint32(xenstore.XS_SET_PERMS), uint32(0), []byte("data\x00n7\x00r0\x00"))
	f.Add(uint32(xenstore.XS_TRANSACTION_START), uint32(0), []byte("\x00"))
	f.Add(uint32(xenstore.XS_TRANSACTION_END), uint32(1), []byte("T\x00"))
	f.Add(uint32(xenstore.XS_WATCH), uint32(0), []byte("@releaseDomain\x00tok\x00"))
	f.Add(uint32(xenstore.XS_RM), uint32(0), []byte("/\x00"))
	f.Fuzz(func(t *testing.T, typ, txID uint32, payload []byte) {
		s := New(nil)
		defer s.Close()
		if err := s.MakeDomain(7, "g"); err != nil {
			t.Fatal(err)
		}
		c := s.newConn(7)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		// A transaction for the request to name, then the request twice (a second time in the
		// state the first left behind).
		s.handle(c, xenstore.XS_TRANSACTION_START, 1, 0, []byte{0})
		s.handle(c, xenstore.MsgType(typ), 2, txID, payload)
		s.handle(c, xenstore.MsgType(typ), 3, txID, payload)
		if c.out.Len() < 3 {
			t.Fatalf("%d replies to 3 requests", c.out.Len())
		}
	})
}
