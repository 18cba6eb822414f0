package xsdaemon_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/internal/xsdaemon"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/sim/xenstoretest"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

func TestWatchEvent(t *testing.T) {
	const home = "/local/domain/7"
	rel := xsdaemon.Watch{Path: "device/vif", Abs: home + "/device/vif", Token: "t"}
	abs := xsdaemon.Watch{Path: home + "/device/vif", Abs: home + "/device/vif", Token: "t"}
	root := xsdaemon.Watch{Path: "/", Abs: "/", Token: "t"}
	special := xsdaemon.Watch{Path: "@releaseDomain", Abs: "@releaseDomain", Token: "t"}
	tests := []struct {
		name    string
		w       xsdaemon.Watch
		changed string
		recurse bool
		want    string
		fires   bool
	}{
		{"the node itself, relative", rel, home + "/device/vif", false, "device/vif", true},
		{"a node below, relative", rel, home + "/device/vif/0/state", false, "device/vif/0/state", true},
		{"a node below, absolute", abs, home + "/device/vif/0", false, home + "/device/vif/0", true},
		{"a sibling with the same prefix", rel, home + "/device/vif2", false, "", false},
		{"the parent written", rel, home + "/device", false, "", false},
		{"the parent removed", rel, home + "/device", true, "device/vif", true},
		{"anything, for a watch on /", root, "/local", false, "/local", true},
		{"a special path does not fire /", root, "@releaseDomain", false, "", false},
		{"a special path fires its own watch", special, "@releaseDomain", false, "@releaseDomain", true},
		{"another special path", special, "@introduceDomain", false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fires := tt.w.Event(tt.changed, tt.recurse, home)
			assert.Equal(t, tt.fires, fires)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestWatchesApply(t *testing.T) {
	var ws xsdaemon.Watches
	a := xsdaemon.Watch{Path: "a", Abs: "/x/a", Token: "1"}
	require.NoError(t, ws.Apply(xenstore.XS_WATCH, a))
	assert.ErrorIs(t, ws.Apply(xenstore.XS_WATCH, xsdaemon.Watch{Path: "/x/a", Abs: "/x/a", Token: "1"}), xen.EEXIST,
		"the same absolute path and token, however written")
	require.NoError(t, ws.Apply(xenstore.XS_WATCH, xsdaemon.Watch{Path: "a", Abs: "/x/a", Token: "2"}))
	assert.Len(t, ws, 2)
	require.NoError(t, ws.Apply(xenstore.XS_UNWATCH, a))
	assert.ErrorIs(t, ws.Apply(xenstore.XS_UNWATCH, a), xen.ENOENT)
	assert.Equal(t, xsdaemon.Watches{{Path: "a", Abs: "/x/a", Token: "2"}}, ws)
}

func TestOutbox(t *testing.T) {
	o := xsdaemon.NewOutbox()
	o.Send(xenstore.XS_READ, 5, 0, []byte("value"))
	o.Event("device/vif/0/state", "tok")
	assert.Equal(t, 2, o.Len())
	w := &notifyingBuffer{n: make(chan struct{}, 2)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		o.Run(w)
	}()
	<-w.n
	<-w.n
	o.Close()
	<-done
	assert.Equal(t, 0, o.Len())

	b := w.Bytes()
	h, err := xenstore.DecodeHeader(b)
	require.NoError(t, err)
	assert.Equal(t, xenstore.Header{Type: xenstore.XS_READ, ReqID: 5, Len: 5}, h)
	assert.Equal(t, "value", string(b[xenstore.SockmsgSize:][:5]))
	b = b[xenstore.SockmsgSize+5:]
	h, err = xenstore.DecodeHeader(b)
	require.NoError(t, err)
	assert.Equal(t, xenstore.XS_WATCH_EVENT, h.Type)
	assert.Equal(t, "device/vif/0/state\x00tok\x00", string(b[xenstore.SockmsgSize:]))
}

type notifyingBuffer struct {
	bytes.Buffer
	n chan struct{}
}

func (b *notifyingBuffer) Write(p []byte) (int, error) {
	n, err := b.Buffer.Write(p)
	b.n <- struct{}{}
	return n, err
}

// A guest whose indices claim more than a ring's worth loses its connection; one within bounds
// is served across the u32 wrap.
func TestRingIndices(t *testing.T) {
	tests := []struct {
		name                               string
		reqCons, reqProd, rspCons, rspProd uint32
		readErr, writeErr                  error
	}{
		{"req overrun", 0, xenstore.XENSTORE_RING_SIZE + 1, 0, 0, io.ErrUnexpectedEOF, nil},
		{"req behind", 10, 5, 0, 0, io.ErrUnexpectedEOF, nil},
		{"rsp overrun", 0, 4, 0, xenstore.XENSTORE_RING_SIZE + 1, nil, io.ErrUnexpectedEOF},
		{"across the wrap", 0xfffffffe, 2, 0xfffffffe, 0xfffffffe, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := make([]byte, 4096)
			le := binary.LittleEndian
			le.PutUint32(page[xenstore.InterfaceOffReqCons:], tt.reqCons)
			le.PutUint32(page[xenstore.InterfaceOffReqProd:], tt.reqProd)
			le.PutUint32(page[xenstore.InterfaceOffRspCons:], tt.rspCons)
			le.PutUint32(page[xenstore.InterfaceOffRspProd:], tt.rspProd)
			copy(page[xenstore.InterfaceOffReq+xenstore.XENSTORE_RING_SIZE-2:], "ab")
			copy(page[xenstore.InterfaceOffReq:], "cd")
			_, daemon := xenstoretest.NewEventChannelPair(1, 2)
			r := xsdaemon.NewRing(page, daemon)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go r.Run(ctx)

			buf := make([]byte, 8)
			n, err := r.Read(buf)
			if tt.readErr != nil {
				assert.ErrorIs(t, err, tt.readErr)
				return
			}
			require.NoError(t, err)
			if tt.name == "across the wrap" {
				// The first read stops at the end of the ring; the second goes on from its start.
				assert.Equal(t, "ab", string(buf[:n]))
				n, err = r.Read(buf)
				require.NoError(t, err)
				assert.Equal(t, "cd", string(buf[:n]))
				assert.Equal(t, uint32(2), le.Uint32(page[xenstore.InterfaceOffReqCons:]))
			}
			n, err = r.Write([]byte("xyz"))
			if tt.writeErr != nil {
				assert.ErrorIs(t, err, tt.writeErr)
				assert.Zero(t, n)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 3, n)
			assert.Equal(t, tt.rspProd+3, le.Uint32(page[xenstore.InterfaceOffRspProd:]))
		})
	}
}

// Cancelling Run closes the ring: a reader waiting on an empty ring returns io.EOF.
func TestRingClose(t *testing.T) {
	_, daemon := xenstoretest.NewEventChannelPair(1, 2)
	r := xsdaemon.NewRing(make([]byte, 4096), daemon)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		r.Run(ctx)
	}()
	read := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 1))
		read <- err
	}()
	cancel()
	<-ran
	assert.ErrorIs(t, <-read, io.EOF)
	_, err := r.Write([]byte("x"))
	assert.ErrorIs(t, err, io.ErrClosedPipe)
}

// Serve hands requests on in order, whatever their type, answers through the outbox, and ends
// the connection at a payload over the limit.
func TestServe(t *testing.T) {
	client, daemon := net.Pipe()
	defer client.Close()
	out := xsdaemon.NewOutbox()
	var got []xenstore.Header
	done := make(chan error, 1)
	go func() {
		done <- xsdaemon.Serve(daemon, out, func(h xenstore.Header, payload []byte) {
			got = append(got, h)
			out.Send(h.Type, h.ReqID, h.TxID, payload)
		})
	}()
	send := func(h xenstore.Header, payload string) {
		b := make([]byte, xenstore.SockmsgSize+len(payload))
		h.Encode(b)
		copy(b[xenstore.SockmsgSize:], payload)
		_, err := client.Write(b)
		require.NoError(t, err)
	}
	send(xenstore.Header{Type: xenstore.XS_READ, ReqID: 1, Len: 2}, "a\x00")
	reply := make([]byte, xenstore.SockmsgSize+2)
	_, err := io.ReadFull(client, reply)
	require.NoError(t, err)
	assert.Equal(t, "a\x00", string(reply[xenstore.SockmsgSize:]))
	send(xenstore.Header{Type: 999, ReqID: 2}, "")
	_, err = io.ReadFull(client, reply[:xenstore.SockmsgSize])
	require.NoError(t, err)
	send(xenstore.Header{Type: xenstore.XS_WRITE, ReqID: 3, Len: xenstore.XENSTORE_PAYLOAD_MAX + 1}, "")
	assert.ErrorIs(t, <-done, xsdaemon.ErrPayloadTooBig)
	assert.Equal(t, []xenstore.Header{{Type: xenstore.XS_READ, ReqID: 1, Len: 2}, {Type: 999, ReqID: 2}}, got)
}
