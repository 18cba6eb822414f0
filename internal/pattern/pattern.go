// Package pattern is the deterministic byte stream that the examples serve and the tests
// check: a download can be verified end to end by regenerating the same bytes on the other
// side (dom0, the host) and comparing SHA-256 sums, without either side trusting the other.
package pattern

import (
	"encoding/binary"
	"io"
)

// seed starts every stream; the stream depends on nothing else.
const seed = 0x9e3779b97f4a7c15

// Reader yields the first n bytes of the stream (xorshift64*, 8 bytes per step, little endian),
// then io.EOF. The zero Reader is empty.
type Reader struct {
	left  int64
	state uint64
	buf   [8]byte
	have  int // unread bytes at the end of buf
}

// NewReader returns a Reader of n bytes.
func NewReader(n int64) *Reader { return &Reader{left: n, state: seed} }

func (r *Reader) next() uint64 {
	r.state ^= r.state >> 12
	r.state ^= r.state << 25
	r.state ^= r.state >> 27
	return r.state * 0x2545f4914f6cdd1d
}

// Read fills p with the next bytes of the stream.
func (r *Reader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for n < len(p) && r.have > 0 {
		p[n] = r.buf[8-r.have]
		r.have--
		n++
	}
	for ; len(p)-n >= 8; n += 8 {
		binary.LittleEndian.PutUint64(p[n:], r.next())
	}
	if n < len(p) {
		binary.LittleEndian.PutUint64(r.buf[:], r.next())
		r.have = 8
		for n < len(p) {
			p[n] = r.buf[8-r.have]
			r.have--
			n++
		}
	}
	r.left -= int64(n)
	return n, nil
}
