package bulk

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range []Request{{Get, 0}, {Put, 1}, {Get, 1 << 40}, {Put, DefaultMaxBytes}} {
		var b [RequestSize]byte
		r.Marshal(b[:])
		got, err := ParseRequest(b[:], 1<<40)
		require.NoError(t, err)
		assert.Equal(t, r, got)
	}
}

func TestParseRequestRejects(t *testing.T) {
	good := func() []byte {
		var b [RequestSize]byte
		Request{Op: Put, Bytes: 100}.Marshal(b[:])
		return b[:]
	}
	for _, tc := range []struct {
		name string
		edit func(b []byte) []byte
		want error
	}{
		{"short", func(b []byte) []byte { return b[:RequestSize-1] }, ErrBadRequest},
		{"magic", func(b []byte) []byte { b[0] = 'x'; return b }, ErrBadRequest},
		{"op", func(b []byte) []byte { b[4] = 'X'; return b }, ErrBadRequest},
		{"reserved", func(b []byte) []byte { b[6] = 1; return b }, ErrBadRequest},
		{"too large", func(b []byte) []byte { binary.BigEndian.PutUint64(b[8:], 101); return b }, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRequest(tc.edit(good()), 100)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// serve starts a server on a loopback listener and returns its dialer.
func serve(t *testing.T, s *Server) Dialer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(l)
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
	})
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", l.Addr().String())
	}
}

func TestRunBothWays(t *testing.T) {
	dial := serve(t, &Server{BufSize: 4096})
	for _, tc := range []struct {
		op      Op
		bytes   uint64
		streams int
	}{
		{Get, 0, 1}, {Put, 0, 1},
		{Get, 1, 1}, {Put, 1, 1},
		{Get, 1 << 20, 1}, {Put, 1 << 20, 1},
		{Get, 1<<20 + 3, 4}, {Put, 1<<20 + 3, 4},
		{Get, 3, 4}, {Put, 3, 4}, // fewer bytes than streams: some carry none
	} {
		t.Run(tc.op.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r, err := Run(ctx, dial, tc.op, tc.bytes, tc.streams, 1000)
			require.NoError(t, err)
			require.Len(t, r.Streams, tc.streams)
			var sum uint64
			for _, s := range r.Streams {
				sum += s.Bytes
				assert.LessOrEqual(t, s.Elapsed, r.Elapsed)
			}
			assert.Equal(t, tc.bytes, sum)
			assert.Equal(t, tc.bytes, r.Bytes)
			assert.Contains(t, r.String(), "op="+tc.op.String())
		})
	}
}

func TestRunArguments(t *testing.T) {
	dial := serve(t, &Server{})
	for _, tc := range []struct {
		op      Op
		streams int
	}{{Get, 0}, {Put, MaxStreams + 1}, {Op('X'), 1}} {
		_, err := Run(context.Background(), dial, tc.op, 10, tc.streams, 0)
		require.Error(t, err)
	}
}

func TestServerBounds(t *testing.T) {
	dial := serve(t, &Server{MaxBytes: 1000, HeaderTimeout: 200 * time.Millisecond})
	ctx := context.Background()

	_, err := Run(ctx, dial, Get, 1001, 1, 0)
	require.Error(t, err, "over MaxBytes")
	_, err = Run(ctx, dial, Put, 1000, 1, 0)
	require.NoError(t, err)

	// Garbage instead of a request: closed without an answer.
	c, err := dial(ctx)
	require.NoError(t, err)
	_, err = c.Write(bytes.Repeat([]byte{'x'}, RequestSize))
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, c)
	assert.Zero(t, n)
	assert.NoError(t, err)
	_ = c.Close()

	// No request at all: closed after HeaderTimeout.
	c, err = dial(ctx)
	require.NoError(t, err)
	require.NoError(t, c.SetDeadline(time.Now().Add(time.Minute)))
	n, _ = io.Copy(io.Discard, c)
	assert.Zero(t, n)
	_ = c.Close()
}

func TestServerMaxConns(t *testing.T) {
	dial := serve(t, &Server{MaxConns: 1, HeaderTimeout: time.Minute})
	ctx := context.Background()
	// The first connection holds the only slot while it sends no request.
	c1, err := dial(ctx)
	require.NoError(t, err)
	defer c1.Close()
	c2, err := dial(ctx)
	require.NoError(t, err)
	defer c2.Close()
	require.NoError(t, c2.SetDeadline(time.Now().Add(time.Minute)))
	n, _ := io.Copy(io.Discard, c2)
	assert.Zero(t, n, "the second connection is closed at once")
	// Once the first ends, a transfer goes through again.
	require.NoError(t, c1.Close())
	require.Eventually(t, func() bool {
		_, err := Run(ctx, dial, Get, 10, 1, 0)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
}

func TestPutShortAnswerFails(t *testing.T) {
	// A server that answers a smaller count than was sent: the client says so.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var hdr [RequestSize]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		r, _ := ParseRequest(hdr[:], 1<<20)
		_, _ = io.CopyN(io.Discard, c, int64(r.Bytes))
		var ans [8]byte
		binary.BigEndian.PutUint64(ans[:], r.Bytes-1)
		_, _ = c.Write(ans[:])
	}()
	dial := func(ctx context.Context) (net.Conn, error) { return net.Dial("tcp", l.Addr().String()) }
	_, err = Run(context.Background(), dial, Put, 100, 1, 0)
	require.ErrorContains(t, err, "received 99 bytes")
}

func TestSendRecvDoNotAllocate(t *testing.T) {
	buf := make([]byte, 512)
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = sendN(io.Discard, buf, 4096)
	})
	assert.Zero(t, allocs)
	r := &zeroReader{}
	allocs = testing.AllocsPerRun(100, func() {
		_, _ = recvN(r, buf, 4096)
	})
	assert.Zero(t, allocs)
}

type zeroReader struct{}

func (*zeroReader) Read(b []byte) (int, error) { return len(b), nil }
