// Fuzz targets for everything the daemon writes: frames, replies, watch events, ring indices.

package xenstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/tamaxen/tamaxen/xen"
)

func frame(t MsgType, reqID uint32, payload string) []byte {
	return appendMessage(nil, t, reqID, 0, []byte(payload))
}

// FuzzReply feeds one frame to the header check, every reply decoder and the watch event
// parser. None may panic, and what they accept must satisfy the invariants callers rely on.
func FuzzReply(f *testing.F) {
	f.Add(frame(XS_READ, 1, "value"))
	f.Add(frame(XS_DIRECTORY, 1, "a\x00b\x00"))
	f.Add(frame(XS_GET_PERMS, 1, "b0\x00r7\x00"))
	f.Add(frame(XS_TRANSACTION_START, 1, "17\x00"))
	f.Add(frame(XS_ERROR, 1, "EAGAIN\x00"))
	f.Add(frame(XS_WATCH_EVENT, 0, "device/vif\x00tamaxen:1\x00"))
	f.Add(frame(XS_WRITE, 1, "OK\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHeader(b)
		if err != nil {
			return
		}
		if h.Len > XENSTORE_PAYLOAD_MAX || !h.Type.Valid() {
			t.Fatalf("accepted header %+v", h)
		}
		payload := b[SockmsgSize:]
		if int(h.Len) < len(payload) {
			payload = payload[:h.Len]
		}
		if path, token, err := parseWatchEvent(payload); err == nil {
			if path == "" || token == "" || bytes.IndexByte([]byte(path+token), 0) >= 0 {
				t.Fatalf("watch event %q %q", path, token)
			}
		}
		for op := MsgType(0); op < XS_TYPE_COUNT; op++ {
			r, err := decodeReply(op, h.Type, payload)
			if err != nil {
				continue
			}
			if h.Type == XS_ERROR {
				if r.errName == "" || len(r.errName) > maxErrorName {
					t.Fatalf("error name %q", r.errName)
				}
				_ = (&Error{Op: op, Name: r.errName, Errno: errnoFromName(r.errName)}).Error()
				continue
			}
			for _, s := range r.list {
				if s == "" || bytes.IndexByte([]byte(s), 0) >= 0 {
					t.Fatalf("directory entry %q", s)
				}
			}
			for _, p := range r.perms {
				if !p.Access.valid() {
					t.Fatalf("perm %+v", p)
				}
			}
			if op == XS_TRANSACTION_START && r.txID == 0 {
				t.Fatal("transaction id 0 accepted")
			}
		}
	})
}

// streamTransport answers the client with a fixed byte stream once two requests are out.
type streamTransport struct {
	data    []byte
	writes  chan struct{} // one token per request written
	open    chan struct{} // closed once the reader may start
	opened  sync.Once
	closed  chan struct{}
	closing sync.Once
}

func (s *streamTransport) Write(p []byte) (int, error) {
	s.writes <- struct{}{}
	return len(p), nil
}

func (s *streamTransport) Read(p []byte) (int, error) {
	select {
	case <-s.open:
	case <-s.closed:
		return 0, io.ErrClosedPipe
	}
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

func (s *streamTransport) Close() error {
	s.closing.Do(func() { close(s.closed) })
	return nil
}

// FuzzClientStream runs a client against an arbitrary byte stream from the daemon: a watch
// (req_id 1) and a read (req_id 2) in flight at once. Whatever arrives, every call returns
// (with a result, a daemon error, or a connection error), nothing panics, and the watch channel
// closes when the connection ends.
func FuzzClientStream(f *testing.F) {
	ok := frame(XS_WATCH, 1, "OK\x00")
	ev := frame(XS_WATCH_EVENT, 0, "w\x00tamaxen:1\x00")
	rd := frame(XS_READ, 2, "value")
	f.Add(append(append(append([]byte{}, ok...), ev...), rd...))
	f.Add(append(append([]byte{}, rd...), ok...))
	f.Add(frame(XS_ERROR, 2, "ENOENT\x00"))
	f.Add(frame(XS_READ, 3, "v"))
	f.Add(frame(XS_DIRECTORY, 1, "a\x00"))
	f.Add(append(frame(XS_READ, 2, "")[:12], 0xff, 0xff, 0, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		st := &streamTransport{data: data, writes: make(chan struct{}, 2), open: make(chan struct{}), closed: make(chan struct{})}
		c := New(st)
		ctx := context.Background()
		var wg sync.WaitGroup
		wg.Add(2)
		// The watch goes out first and the read second, so req_ids 1 and 2 are deterministic.
		go func() {
			defer wg.Done()
			w, err := c.Watch(ctx, "w")
			if err != nil {
				return
			}
			for range w.Events() {
			}
		}()
		<-st.writes
		go func() {
			defer wg.Done()
			_, err := c.Read(ctx, "r")
			var xe *Error
			if err != nil && !errors.As(err, &xe) && !errors.Is(err, xen.ErrBroken) && !errors.Is(err, xen.ErrClosed) {
				t.Errorf("unexpected error %v", err)
			}
		}()
		<-st.writes
		close(st.open)
		// The stream ends in EOF, which fails the connection, so both calls return.
		<-c.readerDone
		wg.Wait()
		if c.Err() == nil {
			t.Fatal("connection survived EOF")
		}
		_ = c.Close()
	})
}

// FuzzRingTransport attaches to a page with arbitrary indices and contents, then reads and
// writes once with the daemon's indices moved arbitrarily in between: a hostile producer. The
// transport must copy only bytes inside the rings, never more than asked, and report a
// violation as ErrBroken.
func FuzzRingTransport(f *testing.F) {
	seed := func(rc, rp, cc, cp, cp2, rc2 uint32, body string) []byte {
		b := make([]byte, 24, 24+len(body))
		for i, v := range []uint32{rc, rp, cc, cp, cp2, rc2} {
			binary.LittleEndian.PutUint32(b[4*i:], v)
		}
		return append(b, body...)
	}
	f.Add(seed(0, 0, 0, 5, 10, 0, "hello world"), uint16(8))
	f.Add(seed(0xfffffffe, 0xfffffffe, 0xfffffffc, 4, 1000, 3, "wrap"), uint16(3000))
	f.Add(seed(0, 0, 0, 0, 1025, 0, ""), uint16(1))
	f.Add(seed(10, 0, 7, 7, 6, 11, ""), uint16(16))
	f.Fuzz(func(t *testing.T, in []byte, bufLen uint16) {
		if len(in) < 24 {
			return
		}
		idx := func(i int) uint32 { return binary.LittleEndian.Uint32(in[4*i:]) }
		page := newIfacePage(idx(0), idx(1), idx(2), idx(3))
		copy(page[:2*XENSTORE_RING_SIZE], in[24:])
		r, err := NewRingTransport(page, newTestEvtchn())
		if err != nil {
			if !errors.Is(err, xen.ErrBroken) {
				t.Fatalf("attach: %v", err)
			}
			return
		}
		defer r.Close()

		// The hostile daemon moves its indices after attach.
		page.set(InterfaceOffRspProd, idx(4))
		page.set(InterfaceOffReqCons, idx(5))

		buf := make([]byte, int(bufLen)%4096+1)
		cons := idx(2)
		if avail := idx(4) - cons; avail != 0 { // an empty ring would block, as it should
			n, err := r.Read(buf)
			switch {
			case avail > XENSTORE_RING_SIZE:
				if !errors.Is(err, xen.ErrBroken) {
					t.Fatalf("rsp_prod %#x rsp_cons %#x: read %d, %v", idx(4), cons, n, err)
				}
			case err != nil || n < 1 || n > len(buf) || uint32(n) > avail:
				t.Fatalf("read %d of %d available into %d: %v", n, avail, len(buf), err)
			default:
				for i := range n {
					if buf[i] != page[InterfaceOffRsp+int(RingOffset(cons+uint32(i)))] {
						t.Fatalf("byte %d differs from the ring", i)
					}
				}
			}
		}

		if r.Err() != nil {
			return
		}
		used := idx(1) - idx(5)
		if used > XENSTORE_RING_SIZE {
			if _, err := r.Write([]byte("x")); !errors.Is(err, xen.ErrBroken) {
				t.Fatalf("req_prod %#x req_cons %#x: write %v", idx(1), idx(5), err)
			}
			return
		}
		free := XENSTORE_RING_SIZE - used
		if free == 0 {
			return // a full ring would block
		}
		msg := pattern(int(min(free, uint32(len(buf)))))
		if n, err := r.Write(msg); err != nil || n != len(msg) {
			t.Fatalf("write %d of %d: %v", n, len(msg), err)
		}
		if page.get(InterfaceOffReqProd) != idx(1)+uint32(len(msg)) {
			t.Fatal("req_prod not advanced by the bytes written")
		}
	})
}
