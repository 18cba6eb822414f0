// Test helpers: a store with in-process clients acting as given domains.

package xenstored

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

func newStore(t testing.TB) *Store {
	s := New(nil)
	t.Cleanup(s.Close)
	return s
}

// client connects as dom; the client is closed before the store (cleanups run LIFO).
func client(t testing.TB, s *Store, dom xen.DomID) *xenstore.Client {
	c, err := s.Client(dom)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// hangCtx bounds waits that would block forever on a lost event; not a timing assertion.
func hangCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// next returns the next watch event's path.
func next(t testing.TB, w *xenstore.Watch) string {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		require.True(t, ok, "watch ended: %v", w.Err())
		return ev.Path
	case <-hangCtx(t).Done():
		t.Fatal("no watch event")
		return ""
	}
}

func xenDom(i int) xen.DomID { return xen.DomID(i) }

func itoa(i int) string { return strconv.Itoa(i) }
