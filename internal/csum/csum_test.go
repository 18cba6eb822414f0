package csum

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
)

// naive is RFC 1071's reference: 16-bit words added with end-around carry.
func naive(b []byte, initial uint16) uint16 {
	s := uint32(initial)
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
		s = s&0xffff + s>>16
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func TestSumMatchesReference(t *testing.T) {
	ones := make([]byte, 9000)
	for i := range ones {
		ones[i] = 0xff
	}
	for _, tc := range []struct {
		name string
		b    []byte
		init uint16
	}{
		{"empty", nil, 0},
		{"empty with initial", nil, 0x1234},
		{"odd", []byte{1, 2, 3}, 0},
		{"rfc1071 example", []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, 0},
		{"all ones", ones, 0xffff},
		{"all ones odd", ones[:8999], 0xfffe},
	} {
		assert.Equal(t, naive(tc.b, tc.init), Sum(tc.b, tc.init), tc.name)
	}
}

func FuzzSum(f *testing.F) {
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint16(0xffff))
	f.Add([]byte{1}, uint16(0))
	f.Fuzz(func(t *testing.T, b []byte, init uint16) {
		// 0 and 0xffff are the same number in one's complement; compare modulo that.
		got, want := Sum(b, init), naive(b, init)
		if got != want && !(got == 0xffff && want == 0 || got == 0 && want == 0xffff) {
			t.Fatalf("Sum = %#x, reference %#x", got, want)
		}
	})
}

// FuzzVerify: frames from another domain never make the checks panic, and a frame whose
// partial checksum was completed is valid.
func FuzzVerify(f *testing.F) {
	f.Add(tcp4Frame(), false)
	f.Add(tcp4Frame()[:40], true)
	f.Fuzz(func(t *testing.T, frame []byte, validated bool) {
		_ = Verify(frame, validated)
		c := append([]byte(nil), frame...)
		if Complete(c) {
			if _, _, _, ok := l4(c); ok && !Valid(c) {
				// Complete sums over whatever the field held: valid only if it held the
				// pseudo-header sum, which arbitrary input need not.
				return
			}
		}
		_ = Valid(frame)
	})
}

// tcp4Frame is an Ethernet/IPv4/TCP frame with a partial checksum in its TCP header.
func tcp4Frame() []byte {
	f := make([]byte, 14+20+20+5)
	f[12], f[13] = 0x08, 0x00
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], 20+20+5)
	ip[8], ip[9] = 64, 6
	copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
	binary.BigEndian.PutUint16(ip[10:], ^Sum(ip[:20], 0))
	tcp := ip[20:]
	tcp[12] = 5 << 4
	copy(tcp[20:], "hello")
	p := Sum(ip[12:20], 0)
	p = combine(p, 6)
	p = combine(p, 25)
	binary.BigEndian.PutUint16(tcp[16:], p)
	return f
}

func TestCompleteThenValid(t *testing.T) {
	f := tcp4Frame()
	assert.True(t, Verify(f, true), "IPv4 header checksum is right")
	assert.False(t, Valid(f), "a partial checksum is not a valid one")
	assert.True(t, Complete(f))
	assert.True(t, Valid(f))
	assert.True(t, Verify(f, false))
	f[len(f)-1] ^= 1
	assert.False(t, Verify(f, false), "a flipped payload bit is caught")
	assert.True(t, Verify(f, true), "unless the backend vouched for it")
	f[14+8] ^= 1 // TTL: breaks the IPv4 header checksum
	assert.False(t, Verify(f, true), "the IPv4 header is always checked")
}
