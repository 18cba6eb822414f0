// Fuzz targets: arbitrary backend state values, alone and as sequences a StateWatch follows.

package xenbus

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// FuzzParseState: any value parses to a defined state or to Unknown with an error.
func FuzzParseState(f *testing.F) {
	for _, s := range []string{"0", "4", "6\x00", "9", "banana", "", "-1", "004", "4294967300"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		s, err := ParseState(v)
		if !s.Valid() {
			t.Fatalf("%q parsed to invalid %d", v, s)
		}
		if err != nil {
			// The error quotes at most maxStateLen bytes, each at most 4 characters escaped.
			if s != XenbusStateUnknown || len(err.Error()) > 64+4*maxStateLen {
				t.Fatalf("%q: %v with %v", v, s, err)
			}
			return
		}
		// Accepted values are the decimal state numbers, possibly zero-padded and terminated.
		n, perr := strconv.Atoi(string(trimOne(v)))
		if perr != nil || State(n) != s {
			t.Fatalf("%q accepted as %v", v, s)
		}
	})
}

func trimOne(v []byte) []byte {
	if len(v) > 0 && v[len(v)-1] == 0 {
		return v[:len(v)-1]
	}
	return v
}

// FuzzBackendStates feeds a StateWatch a sequence of reads of the backend's state node:
// arbitrary values, missing nodes, refusals and connection errors, as a hostile or dying
// backend and daemon could produce. After each step the watch must hold a defined state that
// matches the value (Unknown for anything else, with a reason), and the handshake's waits must
// decide consistently with it.
func FuzzBackendStates(f *testing.F) {
	f.Add([]byte("\x014\x015\x016"))
	f.Add([]byte("\x012\x00\x014\x02\x03"))
	f.Add([]byte("\x06banana\x014\x03\x016"))
	f.Fuzz(func(t *testing.T, seq []byte) {
		sw := newStateWatch("/local/domain/0/backend/vif/7/0/state")
		done, cancel := context.WithCancel(context.Background())
		cancel()
		prev := sw.Current()
		for len(seq) > 0 {
			n := int(seq[0])
			seq = seq[1:]
			var v []byte
			var err error
			switch {
			case n == 0:
				err = &xenstore.Error{Op: xenstore.XS_READ, Name: "ENOENT", Errno: xen.ENOENT}
			case n == 0xfe:
				err = &xenstore.Error{Op: xenstore.XS_READ, Name: "EACCES", Errno: xen.EACCES}
			case n == 0xff:
				err = xen.ErrBroken
			default:
				n = min(n, len(seq))
				v, seq = seq[:n], seq[n:]
			}
			sw.observe(v, err)

			cur := sw.Current()
			if !cur.Valid() {
				t.Fatalf("state %d", cur)
			}
			switch want, perr := ParseState(v); {
			case errors.Is(err, xen.ErrBroken):
				if cur != prev {
					t.Fatal("a connection error changed the state")
				}
			case err != nil || perr != nil:
				if cur != XenbusStateUnknown || sw.Err() == nil {
					t.Fatalf("%q (%v) read as %v, %v", v, err, cur, sw.Err())
				}
			default:
				if cur != want || sw.Err() != nil {
					t.Fatalf("%q read as %v, %v", v, cur, sw.Err())
				}
			}
			prev = cur

			s, werr := sw.Wait(done, XenbusStateClosing, XenbusStateClosed, XenbusStateUnknown)
			if (werr == nil) != ShouldClose(cur) || s != cur {
				t.Fatalf("wait in %v: %v, %v", cur, s, werr)
			}
			if _, werr := sw.WaitChange(done, cur); werr == nil {
				t.Fatal("WaitChange returned without a change")
			}
		}
	})
}
