// RingTransport tests with a hand-driven daemon side: wrap-around, hostile indices, Close.

package xenstore

import (
	"bytes"
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

// testEvtchn is an event channel whose peer is the test: Kick plays a daemon notification.
type testEvtchn struct {
	pending  chan struct{} // the guest's pending bit
	notified chan struct{} // the daemon's pending bit
	notifies atomic.Int64
}

func newTestEvtchn() *testEvtchn {
	return &testEvtchn{pending: make(chan struct{}, 1), notified: make(chan struct{}, 1)}
}

func (e *testEvtchn) Port() xen.Port { return 1 }

func (e *testEvtchn) Notify() error {
	e.notifies.Add(1)
	select {
	case e.notified <- struct{}{}:
	default:
	}
	return nil
}

func (e *testEvtchn) Kick() {
	select {
	case e.pending <- struct{}{}:
	default:
	}
}

func (e *testEvtchn) Wait(ctx context.Context) error {
	select {
	case <-e.pending:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ifacePage is an interface page with helpers for playing the daemon.
type ifacePage []byte

func newIfacePage(reqCons, reqProd, rspCons, rspProd uint32) ifacePage {
	p := ifacePage(make([]byte, 4096))
	p.set(InterfaceOffReqCons, reqCons)
	p.set(InterfaceOffReqProd, reqProd)
	p.set(InterfaceOffRspCons, rspCons)
	p.set(InterfaceOffRspProd, rspProd)
	return p
}

func (p ifacePage) set(off int, v uint32) { shmem.Store32(p, off, v) }
func (p ifacePage) get(off int) uint32    { return shmem.Load32(p, off) }

// produce puts b on rsp as the daemon would; the caller makes sure it fits.
func (p ifacePage) produce(b []byte) {
	prod := p.get(InterfaceOffRspProd)
	for _, c := range b {
		p[InterfaceOffRsp+int(RingOffset(prod))] = c
		prod++
	}
	p.set(InterfaceOffRspProd, prod)
}

// consume takes everything the guest put on req.
func (p ifacePage) consume() []byte {
	cons, prod := p.get(InterfaceOffReqCons), p.get(InterfaceOffReqProd)
	var out []byte
	for ; cons != prod; cons++ {
		out = append(out, p[InterfaceOffReq+int(RingOffset(cons))])
	}
	p.set(InterfaceOffReqCons, cons)
	return out
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestRingWrap(t *testing.T) {
	// Each start index puts the stream across the end of the ring and, for the high ones,
	// across the u32 wrap of the free-running indices.
	for _, start := range []uint32{0, 1000, 0xfffffc00, 0xfffffffe, 0xffffffff - 1500} {
		page := newIfacePage(start, start, start, start)
		ev := newTestEvtchn()
		r, err := NewRingTransport(page, ev)
		require.NoError(t, err)

		// Guest to daemon: 3000 bytes need three refills of the 1024-byte ring.
		msg := pattern(3000)
		var got []byte
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for len(got) < len(msg) {
				<-ev.notified
				got = append(got, page.consume()...)
				ev.Kick()
			}
		}()
		n, err := r.Write(msg)
		require.NoError(t, err)
		assert.Equal(t, len(msg), n)
		wg.Wait()
		assert.Equal(t, msg, got, "start %#x", start)
		assert.Equal(t, start+3000, page.get(InterfaceOffReqProd))

		// Daemon to guest, in chunks that straddle the ring's end.
		want := pattern(2500)
		var read []byte
		buf := make([]byte, 700)
		for off := 0; off < len(want); off += 500 {
			page.produce(want[off : off+500])
			for len(read) < off+500 {
				n, err := r.Read(buf)
				require.NoError(t, err)
				read = append(read, buf[:n]...)
			}
		}
		assert.Equal(t, want, read, "start %#x", start)
		assert.Equal(t, start+2500, page.get(InterfaceOffRspCons))
		assert.Positive(t, ev.notifies.Load())
		require.NoError(t, r.Close())
	}
}

func TestRingHostileIndices(t *testing.T) {
	type step func(p ifacePage, r *RingTransport) error
	read := func(p ifacePage, r *RingTransport) error { _, err := r.Read(make([]byte, 16)); return err }
	write := func(p ifacePage, r *RingTransport) error { _, err := r.Write([]byte("x")); return err }
	for _, tc := range []struct {
		name   string
		start  [4]uint32 // req_cons, req_prod, rsp_cons, rsp_prod
		tamper func(p ifacePage)
		op     step
	}{
		{"rsp_prod past a ring's worth", [4]uint32{}, func(p ifacePage) { p.set(InterfaceOffRspProd, 1025) }, read},
		{"rsp_prod behind rsp_cons", [4]uint32{0, 0, 10, 10}, func(p ifacePage) { p.set(InterfaceOffRspProd, 9) }, read},
		{"rsp_prod across the wrap", [4]uint32{0, 0, 0xfffffff0, 0xfffffff0}, func(p ifacePage) { p.set(InterfaceOffRspProd, 0x400) }, read},
		{"req_cons ahead of req_prod", [4]uint32{}, func(p ifacePage) { p.set(InterfaceOffReqCons, 1) }, write},
		{"req_cons far behind", [4]uint32{5, 5, 0, 0}, func(p ifacePage) { p.set(InterfaceOffReqCons, 0xffffffff-1994) }, write},
		{"error field", [4]uint32{}, func(p ifacePage) {
			p.set(InterfaceOffServerFeatures, XENSTORE_SERVER_FEATURE_ERROR)
			p.set(InterfaceOffError, XENSTORE_ERROR_RINGIDX)
		}, read},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.start
			page := newIfacePage(s[0], s[1], s[2], s[3])
			r, err := NewRingTransport(page, newTestEvtchn())
			require.NoError(t, err)
			defer r.Close()
			tc.tamper(page)
			assert.ErrorIs(t, tc.op(page, r), xen.ErrBroken)
			// Broken for good, in both directions.
			assert.ErrorIs(t, read(page, r), xen.ErrBroken)
			assert.ErrorIs(t, write(page, r), xen.ErrBroken)
		})
	}
}

func TestRingAttach(t *testing.T) {
	_, err := NewRingTransport(newIfacePage(0, 1025, 0, 0), newTestEvtchn())
	assert.ErrorIs(t, err, xen.ErrBroken)
	_, err = NewRingTransport(newIfacePage(0, 0, 0, 0xffffffff), newTestEvtchn())
	assert.ErrorIs(t, err, xen.ErrBroken)
	_, err = NewRingTransport(make([]byte, InterfaceSize-1), newTestEvtchn())
	assert.Error(t, err)
	_, err = NewRingTransport(make([]byte, 4097)[1:], newTestEvtchn())
	assert.Error(t, err, "unaligned")

	// Leftover bytes a boot loader did not consume are just data; the error field without
	// the feature bit is not looked at.
	page := newIfacePage(0, 0, 0, 0)
	page.set(InterfaceOffError, XENSTORE_ERROR_COMM)
	page.produce([]byte("ab"))
	r, err := NewRingTransport(page, newTestEvtchn())
	require.NoError(t, err)
	buf := make([]byte, 4)
	n, err := r.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "ab", string(buf[:n]))
	require.NoError(t, r.Close())
}

func TestRingCloseUnblocks(t *testing.T) {
	page := newIfacePage(0, 1024, 0, 0) // req ring full, rsp ring empty
	r, err := NewRingTransport(page, newTestEvtchn())
	require.NoError(t, err)
	errs := make(chan error, 2)
	go func() { _, err := r.Read(make([]byte, 1)); errs <- err }()
	go func() { _, err := r.Write([]byte("x")); errs <- err }()
	require.NoError(t, r.Close())
	assert.ErrorIs(t, <-errs, xen.ErrClosed)
	assert.ErrorIs(t, <-errs, xen.ErrClosed)
	require.NoError(t, r.Close())
	_, err = r.Read(make([]byte, 1))
	assert.ErrorIs(t, err, xen.ErrClosed)
}

func TestRingWaitsForEvents(t *testing.T) {
	page := newIfacePage(0, 0, 0, 0)
	ev := newTestEvtchn()
	r, err := NewRingTransport(page, ev)
	require.NoError(t, err)
	defer r.Close()
	got := make(chan []byte)
	go func() {
		buf := make([]byte, 8)
		n, _ := r.Read(buf)
		got <- buf[:n]
	}()
	page.produce([]byte("hello"))
	ev.Kick()
	assert.True(t, bytes.Equal([]byte("hello"), <-got))
}

// After xl restore the toolstack clears the page and a new daemon connection starts at index
// 0. Resync adopts the indices as they are when it runs: an answer the daemon writes before the
// reader gets round to it is read, not skipped as a leftover, and old bytes are dropped.
func TestRingResync(t *testing.T) {
	tests := []struct {
		name  string
		clear bool // the toolstack cleared the page (Xen 4.17's restore does)
	}{{"cleared page", true}, {"page kept", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newIfacePage(0x100, 0x100, 0x200, 0x200)
			ev := newTestEvtchn()
			r, err := NewRingTransport(p, ev)
			require.NoError(t, err)
			defer r.Close()
			_, err = r.Write([]byte("old"))
			require.NoError(t, err)
			p.produce([]byte("stale")) // an answer the old daemon left unread
			if tt.clear {
				clear(p)
			} else {
				p.consume()
			}
			r.Resync()
			// The first request of the new connection goes out, and the new daemon answers it
			// at once, before the reader has looked at the ring.
			_, err = r.Write([]byte("new"))
			require.NoError(t, err)
			assert.Equal(t, []byte("new"), p.consume())
			p.produce([]byte("answer"))
			ev.Kick()
			got := make([]byte, 6)
			_, err = io.ReadFull(r, got)
			require.NoError(t, err)
			assert.Equal(t, "answer", string(got))
		})
	}
}

// A suspended transport keeps off the page: a read waits through the cleared page and a late
// event, a write waits too, and both go on in the new ring after Resync and Resume.
func TestRingSuspend(t *testing.T) {
	p := newIfacePage(0x10, 0x10, 0x20, 0x20)
	ev := newTestEvtchn()
	r, err := NewRingTransport(p, ev)
	require.NoError(t, err)
	defer r.Close()
	r.Suspend()
	read := make(chan string, 1)
	go func() {
		buf := make([]byte, 8)
		n, err := r.Read(buf)
		if err != nil {
			read <- err.Error()
			return
		}
		read <- string(buf[:n])
	}()
	wrote := make(chan error, 1)
	go func() { _, err := r.Write([]byte("req")); wrote <- err }()
	clear(p)
	ev.Kick()
	assert.Never(t, func() bool { return len(read)+len(wrote) > 0 || p.get(InterfaceOffReqProd) != 0 },
		50*time.Millisecond, time.Millisecond, "the suspended transport used the page")

	r.Resync()
	r.Resume()
	require.NoError(t, <-wrote)
	assert.Equal(t, []byte("req"), p.consume())
	p.produce([]byte("rsp"))
	ev.Kick()
	assert.Equal(t, "rsp", <-read)
}
