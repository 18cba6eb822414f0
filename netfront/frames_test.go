// Test frames: what tests send, and how they collect what they receive.

package netfront

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen/netif"
)

// got is a received frame, copied out of the callback.
type got struct {
	data []byte
	meta RxMeta
}

// collector returns a Receive callback that queues copies of the frames on a channel.
func collector(n int) (func([]byte, RxMeta), chan got) {
	ch := make(chan got, n)
	return func(b []byte, m RxMeta) {
		ch <- got{append([]byte(nil), b...), m}
	}, ch
}

func recv(t testing.TB, ch chan got) got {
	t.Helper()
	select {
	case g := <-ch:
		return g
	case <-hangCtx(t).Done():
		t.Fatal("no frame received")
		return got{}
	}
}

// frame builds a test frame of n bytes: broadcast dst, an experimental EtherType (no flow
// hash), then a pattern that depends on n and on seed.
func frame(n int, seed byte) []byte {
	f := make([]byte, n)
	fill(f, seed)
	return f
}

func fill(f []byte, seed byte) {
	for i := range f {
		f[i] = byte(i*7) + seed + byte(len(f))
	}
	copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x16, 0x3e, 0, 0, 1})
	if len(f) >= 14 {
		f[12], f[13] = 0x88, 0xb5
	}
}

// udp4 builds an IPv4/UDP frame of n bytes (n >= 42) with the given source port, so that
// flows hash to different queues.
func udp4(n int, sport uint16) []byte {
	f := frame(n, 0)
	f[12], f[13] = 0x08, 0x00
	f[14] = 0x45
	f[14+6], f[14+7] = 0x40, 0 // DF, not a fragment
	f[14+9] = 17
	copy(f[14+12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(f[34:], sport)
	binary.BigEndian.PutUint16(f[36:], 9)
	return f
}

// pattern is n bytes of a pattern that depends on seed.
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed)
	}
	return b
}

// decodeTx decodes a TX request slot, as the backend reads it.
func decodeTx(b []byte) netif.TxRequest {
	var r netif.TxRequest
	r.Decode(b)
	return r
}

// sendEcho sends one frame through an echoing backend and waits for it to come back.
func sendEcho(t *testing.T, dev *Device, rx chan got, n int, seed byte) {
	t.Helper()
	f := frame(n, seed)
	require.NoError(t, dev.Send(hangCtx(t), f, TxMeta{}))
	g := recv(t, rx)
	require.Equal(t, f, g.data)
}
