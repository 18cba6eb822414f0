package csum

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// Checksum is what a checksum field holds: the complement of the sum.
func TestChecksum(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want uint16
	}{
		// RFC 1071 section 3: the sum of these bytes is ddf2.
		{"RFC 1071 example", []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, ^uint16(0xddf2)},
		{"odd length pads with zero", []byte{0x00, 0x01, 0xf2}, ^uint16(0xf201)},
		{"empty", nil, 0xffff},
		// A textbook IPv4 header whose checksum field holds b861.
		{"IPv4 header", []byte{
			0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
			0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
		}, 0xb861},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Checksum(tt.data, 0))
		})
	}
}

// PseudoHeader sums what RFC 768 and RFC 8200 lay out: the addresses, a zero byte and the
// protocol, and the length.
func TestPseudoHeader(t *testing.T) {
	v4 := []byte{192, 168, 0, 1, 10, 0, 0, 0xc7}
	laid := append(append([]byte{}, v4...), 0, 17, 0x01, 0x2c)
	assert.Equal(t, Sum(laid, 0), PseudoHeader(v4, 17, 300))

	v6 := bytes.Repeat([]byte{0xfe, 0x80, 0xff, 0x01}, 8)
	laid = append(append([]byte{}, v6...), 0, 0, 0xff, 0xf0, 0, 0, 0, 6)
	assert.Equal(t, Sum(laid, 0), PseudoHeader(v6, 6, 0xfff0))
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
		v := Verify(frame, validated)
		if v == Good && !validated {
			// Good without the backend's word means every checksum was checked here: the
			// transport one must then be right by Valid's independent computation too.
			if proto, _, _, ok := l4(frame); ok && (proto == protoTCP || proto == protoUDP) && !udp4NoChecksum(frame) {
				if !Valid(frame) {
					t.Fatalf("Verify said good, Valid disagrees: %x", frame)
				}
			}
		}
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
	assert.Equal(t, Good, Verify(f, true), "IPv4 header checksum is right")
	assert.False(t, Valid(f), "a partial checksum is not a valid one")
	assert.True(t, Complete(f))
	assert.True(t, Valid(f))
	assert.Equal(t, Good, Verify(f, false))
	f[len(f)-1] ^= 1
	assert.Equal(t, Bad, Verify(f, false), "a flipped payload bit is caught")
	assert.Equal(t, Good, Verify(f, true), "unless the backend vouched for it")
	f[14+8] ^= 1 // TTL: breaks the IPv4 header checksum
	assert.Equal(t, Bad, Verify(f, true), "the IPv4 header is always checked")
}

// udp4NoChecksum: an IPv4 UDP datagram sent without a checksum (field 0), which is legal.
func udp4NoChecksum(frame []byte) bool {
	proto, seg, _, ok := l4(frame)
	return ok && proto == protoUDP && frame[12] == 0x08 && len(seg) >= 8 && seg[6] == 0 && seg[7] == 0
}

// frame6 is an Ethernet/IPv6 frame carrying next header nh and payload.
func frame6(nh uint8, payload []byte) []byte {
	f := make([]byte, 14+40+len(payload))
	f[12], f[13] = 0x86, 0xdd
	ip := f[14:]
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(len(payload)))
	ip[6], ip[7] = nh, 64
	ip[8], ip[23] = 0xfd, 1
	ip[24], ip[39] = 0xfd, 2
	copy(ip[40:], payload)
	return f
}

// udp6 is a UDP datagram (8-byte header and data) with a right checksum for frame6's addresses.
func udp6(data string) []byte {
	u := make([]byte, 8+len(data))
	binary.BigEndian.PutUint16(u[0:], 1234)
	binary.BigEndian.PutUint16(u[2:], 7)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], data)
	f := frame6(protoUDP, u)
	_, _, pseudo, _ := l4(f)
	binary.BigEndian.PutUint16(u[6:], ^Sum(u, pseudo))
	return u
}

// TestVerifyVerdicts: what can be judged per frame is, extension headers included; what cannot
// (fragments, routing headers) is left Unchecked, never Good, whatever the backend claims.
func TestVerifyVerdicts(t *testing.T) {
	good4 := tcp4Frame()
	Complete(good4)
	bad4 := append([]byte(nil), good4...)
	bad4[len(bad4)-1] ^= 1
	frag4 := append([]byte(nil), bad4...)
	frag4[14+6] = 0x20 // more fragments
	frag4ip := frag4[14:34]
	binary.BigEndian.PutUint16(frag4ip[10:], 0)
	binary.BigEndian.PutUint16(frag4ip[10:], ^Sum(frag4ip, 0))
	badHdrFrag := append([]byte(nil), frag4...)
	badHdrFrag[14+8] ^= 1

	u := udp6("hello")
	good6 := frame6(protoUDP, u)
	badU := append([]byte(nil), u...)
	badU[len(badU)-1] ^= 1
	bad6 := frame6(protoUDP, badU)
	// The same bad datagram behind a destination-options header (8 bytes: next UDP, len 0,
	// PadN), and as the only fragment of a fragmented datagram.
	destOpts := append([]byte{protoUDP, 0, 1, 4, 0, 0, 0, 0}, badU...)
	fragHdr := append([]byte{protoUDP, 0, 0, 0, 0, 0, 0, 1}, badU...)

	assert.True(t, Fragment(frame6(60, append([]byte{44, 0, 1, 4, 0, 0, 0, 0}, fragHdr...))))
	assert.True(t, Fragment(frag4))
	assert.False(t, Fragment(good6))
	for _, tc := range []struct {
		name      string
		frame     []byte
		validated bool
		want      Verdict
	}{
		{"runt", good4[:13], false, Bad},
		{"tcp4 good", good4, false, Good},
		{"tcp4 bad", bad4, false, Bad},
		{"tcp4 bad, vouched", bad4, true, Good},
		{"ipv4 fragment with a bad datagram", frag4, false, Unchecked},
		{"ipv4 fragment, vouched", frag4, true, Unchecked},
		{"ipv4 fragment with a bad header checksum", badHdrFrag, true, Bad},
		{"udp6 good", good6, false, Good},
		{"udp6 bad", bad6, false, Bad},
		{"udp6 bad, vouched", bad6, true, Good},
		{"udp6 bad behind destination options", frame6(60, destOpts), false, Bad},
		{"udp6 good behind destination options", frame6(60, append([]byte{protoUDP, 0, 1, 4, 0, 0, 0, 0}, u...)), false, Good},
		{"udp6 bad behind destination options, vouched", frame6(60, destOpts), true, Good},
		{"udp6 bad behind hop-by-hop and destination options", frame6(0, append([]byte{60, 0, 1, 4, 0, 0, 0, 0}, destOpts...)), false, Bad},
		{"udp6 bad behind a routing header", frame6(43, append([]byte{protoUDP, 0, 0, 0, 0, 0, 0, 0}, badU...)), true, Unchecked},
		{"udp6 bad in a fragment", frame6(44, fragHdr), false, Unchecked},
		{"udp6 bad in a fragment, vouched", frame6(44, fragHdr), true, Unchecked},
		{"udp6 in a fragment behind destination options", frame6(60, append([]byte{44, 0, 1, 4, 0, 0, 0, 0}, fragHdr...)), true, Unchecked},
		{"ipv6 extension chain too long", frame6(60, bytes.Repeat([]byte{60, 0, 1, 4, 0, 0, 0, 0}, 9)), false, Unchecked},
		{"ipv6 extension header past the payload", frame6(60, []byte{protoUDP, 4, 1, 4, 0, 0, 0, 0}), false, Unchecked},
		{"arp", append(append([]byte(nil), good4[:12]...), 0x08, 0x06, 0, 1), false, Unchecked},
	} {
		assert.Equal(t, tc.want, Verify(tc.frame, tc.validated), tc.name)
	}
}

// TestCompleteBehindExtensionHeaders: a partial checksum (csum_blank) behind IPv6 destination
// options is completed like any other, so a stack that verifies it finds it right.
func TestCompleteBehindExtensionHeaders(t *testing.T) {
	u := udp6("partial")
	f := frame6(60, append([]byte{protoUDP, 0, 1, 4, 0, 0, 0, 0}, u...))
	_, seg, pseudo, ok := l4(f)
	require.True(t, ok)
	binary.BigEndian.PutUint16(seg[6:], pseudo) // what CHECKSUM_PARTIAL leaves in the field
	assert.False(t, Valid(f))
	require.True(t, Complete(f))
	assert.True(t, Valid(f))
	assert.Equal(t, Good, Verify(f, false))
}
