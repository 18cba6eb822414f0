// Tests with a hand-driven daemon end: garbage replies fail the connection, never the caller.

package xenstore_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// rawPipe is a client whose daemon end the test writes byte by byte.
type rawPipe struct {
	c    *xenstore.Client
	conn net.Conn
}

func newRawPipe(t *testing.T) *rawPipe {
	cs, ss := net.Pipe()
	p := &rawPipe{c: xenstore.New(cs), conn: ss}
	t.Cleanup(func() {
		_ = p.c.Close()
		_ = ss.Close()
	})
	return p
}

type rawMsg struct {
	typ               xenstore.MsgType
	reqID, txID, size uint32
	payload           []byte
}

func (p *rawPipe) readRequest(t *testing.T) rawMsg {
	t.Helper()
	var hdr [xenstore.SockmsgSize]byte
	_, err := io.ReadFull(p.conn, hdr[:])
	require.NoError(t, err)
	m := rawMsg{
		typ:   xenstore.MsgType(binary.LittleEndian.Uint32(hdr[0:])),
		reqID: binary.LittleEndian.Uint32(hdr[4:]),
		txID:  binary.LittleEndian.Uint32(hdr[8:]),
		size:  binary.LittleEndian.Uint32(hdr[12:]),
	}
	m.payload = make([]byte, m.size)
	_, err = io.ReadFull(p.conn, m.payload)
	require.NoError(t, err)
	return m
}

// send writes a frame whose len field is size (normally len(payload)).
func (p *rawPipe) send(t *testing.T, typ xenstore.MsgType, reqID, size uint32, payload []byte) {
	t.Helper()
	msg := make([]byte, xenstore.SockmsgSize, xenstore.SockmsgSize+len(payload))
	binary.LittleEndian.PutUint32(msg[0:], uint32(typ))
	binary.LittleEndian.PutUint32(msg[4:], reqID)
	binary.LittleEndian.PutUint32(msg[12:], size)
	_, err := p.conn.Write(append(msg, payload...))
	require.NoError(t, err)
}

// call starts op in a goroutine and returns the request the daemon end received.
func (p *rawPipe) call(t *testing.T, op func() error) (rawMsg, <-chan error) {
	done := make(chan error, 1)
	go func() { done <- op() }()
	return p.readRequest(t), done
}

func TestWireRequests(t *testing.T) {
	p := newRawPipe(t)
	ctx := context.Background()
	for _, tc := range []struct {
		op      func() error
		typ     xenstore.MsgType
		payload string
		reply   string
	}{
		{func() error { _, err := p.c.Read(ctx, "a/b"); return err }, xenstore.XS_READ, "a/b\x00", "v"},
		{func() error { return p.c.Write(ctx, "a", []byte("v\x00w")) }, xenstore.XS_WRITE, "a\x00v\x00w", "OK\x00"},
		{func() error { return p.c.Mkdir(ctx, "/d") }, xenstore.XS_MKDIR, "/d\x00", "OK\x00"},
		{func() error { return p.c.Rm(ctx, "d") }, xenstore.XS_RM, "d\x00", "OK"},
		{func() error { _, err := p.c.Directory(ctx, "d"); return err }, xenstore.XS_DIRECTORY, "d\x00", "x\x00y\x00"},
		{func() error { _, err := p.c.GetPerms(ctx, "d"); return err }, xenstore.XS_GET_PERMS, "d\x00", "b0\x00r7\x00"},
		{func() error {
			return p.c.SetPerms(ctx, "d", []xenstore.Perm{{Dom: 7, Access: xenstore.AccessBoth}, {Dom: 0, Access: xenstore.AccessRead}})
		}, xenstore.XS_SET_PERMS, "d\x00b7\x00r0\x00", "OK\x00"},
		{func() error { _, err := p.c.TransactionStart(ctx); return err }, xenstore.XS_TRANSACTION_START, "\x00", "42\x00"},
	} {
		m, done := p.call(t, tc.op)
		assert.Equal(t, tc.typ, m.typ)
		assert.Equal(t, tc.payload, string(m.payload), "%v", tc.typ)
		assert.Zero(t, m.txID)
		p.send(t, m.typ, m.reqID, uint32(len(tc.reply)), []byte(tc.reply))
		require.NoError(t, <-done, "%v", tc.typ)
	}
	assert.NoError(t, p.c.Err())
}

func TestTransactionWire(t *testing.T) {
	p := newRawPipe(t)
	ctx := context.Background()
	var tx *xenstore.Tx
	m, done := p.call(t, func() (err error) { tx, err = p.c.TransactionStart(ctx); return err })
	p.send(t, m.typ, m.reqID, 3, []byte("42\x00"))
	require.NoError(t, <-done)
	assert.EqualValues(t, 42, tx.ID())

	m, done = p.call(t, func() error { return tx.Write(ctx, "k", []byte("v")) })
	assert.Equal(t, xenstore.XS_WRITE, m.typ)
	assert.EqualValues(t, 42, m.txID, "operations carry the transaction id")
	assert.Equal(t, "k\x00v", string(m.payload))
	p.send(t, m.typ, m.reqID, 3, []byte("OK\x00"))
	require.NoError(t, <-done)

	m, done = p.call(t, func() error { return tx.Commit(ctx) })
	assert.Equal(t, xenstore.XS_TRANSACTION_END, m.typ)
	assert.EqualValues(t, 42, m.txID)
	assert.Equal(t, "T\x00", string(m.payload))
	p.send(t, m.typ, m.reqID, 3, []byte("OK\x00"))
	require.NoError(t, <-done)

	// An ended transaction refuses further use without bothering the daemon.
	assert.Error(t, tx.Write(ctx, "k", nil))
	assert.Error(t, tx.Abort(ctx))
	_, err := tx.Read(ctx, "k")
	assert.Error(t, err)
}

func TestGarbageFailsConnection(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		op      func(c *xenstore.Client) error
		typ     func(req xenstore.MsgType) xenstore.MsgType
		reqID   func(req uint32) uint32
		size    int // -1: len(payload)
		payload string
	}{
		{name: "unknown req_id", reqID: func(r uint32) uint32 { return r + 1000 }, payload: "v"},
		{name: "oversized", size: xenstore.XENSTORE_PAYLOAD_MAX + 1},
		{name: "removed XS_RESTRICT", typ: func(xenstore.MsgType) xenstore.MsgType { return 20 }},
		{name: "unknown type", typ: func(xenstore.MsgType) xenstore.MsgType { return 0x1234 }},
		{name: "XS_INVALID", typ: func(xenstore.MsgType) xenstore.MsgType { return xenstore.XS_INVALID }},
		{name: "wrong reply type", typ: func(xenstore.MsgType) xenstore.MsgType { return xenstore.XS_WRITE }, payload: "OK\x00"},
		{name: "empty error", typ: func(xenstore.MsgType) xenstore.MsgType { return xenstore.XS_ERROR }},
		{name: "directory unterminated", op: dirOp, payload: "a\x00b"},
		{name: "directory empty entry", op: dirOp, payload: "a\x00\x00b\x00"},
		{name: "perms bad letter", op: permsOp, payload: "x0\x00"},
		{name: "perms domid too big", op: permsOp, payload: "r65536\x00"},
		{name: "perms signed domid", op: permsOp, payload: "r+1\x00"},
		{name: "perms empty", op: permsOp, payload: ""},
		{name: "ack not OK", op: writeOp, payload: "NO\x00"},
		{name: "tx id zero", op: txOp, payload: "0\x00"},
		{name: "tx id text", op: txOp, payload: "x1\x00"},
		{name: "tx id overflow", op: txOp, payload: "4294967296\x00"},
		{name: "watch event one string", typ: evType, payload: "a\x00"},
		{name: "watch event three strings", typ: evType, payload: "a\x00b\x00c\x00"},
		{name: "watch event unterminated", typ: evType, payload: "a\x00b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newRawPipe(t)
			op := tc.op
			if op == nil {
				op = func(c *xenstore.Client) error { _, err := c.Read(ctx, "x"); return err }
			}
			m, done := p.call(t, func() error { return op(p.c) })
			typ, reqID, payload := m.typ, m.reqID, []byte(tc.payload)
			if tc.typ != nil {
				typ = tc.typ(typ)
			}
			if tc.reqID != nil {
				reqID = tc.reqID(reqID)
			}
			size := uint32(len(payload))
			if tc.size != 0 {
				size = uint32(tc.size)
			}
			p.send(t, typ, reqID, size, payload)
			err := <-done
			assert.ErrorIs(t, err, xen.ErrBroken)
			assert.ErrorIs(t, p.c.Err(), xen.ErrBroken)
			// From then on, requests fail at once with the same diagnosis.
			_, err = p.c.Read(ctx, "y")
			assert.ErrorIs(t, err, xen.ErrBroken)
		})
	}
}

var (
	evType  = func(xenstore.MsgType) xenstore.MsgType { return xenstore.XS_WATCH_EVENT }
	dirOp   = func(c *xenstore.Client) error { _, err := c.Directory(context.Background(), "x"); return err }
	permsOp = func(c *xenstore.Client) error { _, err := c.GetPerms(context.Background(), "x"); return err }
	writeOp = func(c *xenstore.Client) error { return c.Write(context.Background(), "x", nil) }
	txOp    = func(c *xenstore.Client) error { _, err := c.TransactionStart(context.Background()); return err }
)

func TestLateReplyToAbandonedRequest(t *testing.T) {
	p := newRawPipe(t)
	ctx, cancel := context.WithCancel(context.Background())
	m, done := p.call(t, func() error { _, err := p.c.Read(ctx, "slow"); return err })
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	// The reply arrives after the caller gave up: dropped, not a protocol violation.
	p.send(t, m.typ, m.reqID, 1, []byte("v"))

	m, done = p.call(t, func() error { _, err := p.c.Read(context.Background(), "next"); return err })
	assert.NotEqual(t, m.reqID, uint32(0))
	p.send(t, m.typ, m.reqID, 1, []byte("w"))
	require.NoError(t, <-done)
	assert.NoError(t, p.c.Err())
}

func TestEventForUnknownTokenIgnored(t *testing.T) {
	p := newRawPipe(t)
	p.send(t, xenstore.XS_WATCH_EVENT, 0, 0, nil) // wrong: no strings at all
	_, err := p.c.Read(context.Background(), "x")
	assert.ErrorIs(t, err, xen.ErrBroken)

	p = newRawPipe(t)
	ev := []byte("some/path\x00nobody's token\x00")
	p.send(t, xenstore.XS_WATCH_EVENT, 0, uint32(len(ev)), ev)
	m, done := p.call(t, func() error { _, err := p.c.Read(context.Background(), "x"); return err })
	p.send(t, m.typ, m.reqID, 1, []byte("v"))
	require.NoError(t, <-done)
}
