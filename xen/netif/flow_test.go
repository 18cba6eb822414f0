package netif

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
)

// ipv4 builds an Ethernet/IPv4 frame with the given protocol, flags/offset word and the 8
// bytes that follow a 20-byte header.
func ipv4(proto byte, fragWord uint16, src, dst byte, l4 []byte) []byte {
	f := make([]byte, 14+20+len(l4))
	f[12], f[13] = 0x08, 0x00
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[6:], fragWord)
	ip[9] = proto
	copy(ip[12:], []byte{10, 0, 0, src, 10, 0, 0, dst})
	copy(ip[20:], l4)
	return f
}

// ipv6 builds an Ethernet/IPv6 frame whose next header is nh, followed by rest.
func ipv6(nh byte, src byte, rest []byte) []byte {
	f := make([]byte, 14+40+len(rest))
	f[12], f[13] = 0x86, 0xdd
	ip := f[14:]
	ip[0], ip[6] = 0x60, nh
	ip[8], ip[23] = 0xfd, src
	ip[24], ip[39] = 0xfd, 2
	copy(ip[40:], rest)
	return f
}

// fragHdr is an IPv6 fragment header for a UDP payload at offset (in 8-byte units), then l4.
func fragHdr(offset uint16, more bool, l4 []byte) []byte {
	b := make([]byte, 8, 8+len(l4))
	b[0] = 17
	w := offset << 3
	if more {
		w |= 1
	}
	binary.BigEndian.PutUint16(b[2:], w)
	binary.BigEndian.PutUint32(b[4:], 0xcafe)
	return append(b, l4...)
}

func TestFlowHash(t *testing.T) {
	ports := []byte{0x12, 0x34, 0, 80, 0, 0, 0, 0}
	other := []byte{0x12, 0x35, 0, 80, 0, 0, 0, 0}
	junk := []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4}
	junk2 := []byte{0x01, 0x02, 0x03, 0x04, 5, 6, 7, 8}
	const df, mf = 0x4000, 0x2000
	for _, tc := range []struct {
		name string
		a, b []byte
		same bool
	}{
		{"udp4 ports count", ipv4(17, df, 1, 2, ports), ipv4(17, df, 1, 2, other), false},
		{"tcp4 ports count", ipv4(6, 0, 1, 2, ports), ipv4(6, 0, 1, 2, other), false},
		{"addresses count", ipv4(17, 0, 1, 2, ports), ipv4(17, 0, 1, 3, ports), false},
		{"icmp4: no ports", ipv4(1, 0, 1, 2, junk), ipv4(1, 0, 1, 2, junk2), true},
		{"v4 first and later fragment", ipv4(17, mf, 1, 2, ports), ipv4(17, 185, 1, 2, junk), true},
		{"v4 later fragments", ipv4(17, mf|185, 1, 2, junk), ipv4(17, 370, 1, 2, junk2), true},
		{"v4 fragments of other pairs", ipv4(17, mf, 1, 2, ports), ipv4(17, mf, 1, 3, ports), false},
		{"v4 fragments of other protocols", ipv4(17, 185, 1, 2, junk), ipv4(6, 185, 1, 2, junk), false},
		{"udp6 ports count", ipv6(17, 1, ports), ipv6(17, 1, other), false},
		{"v6 first and later fragment", ipv6(44, 1, fragHdr(0, true, ports)), ipv6(44, 1, fragHdr(8, false, junk)), true},
		{"v6 fragments of other pairs", ipv6(44, 1, fragHdr(0, true, ports)), ipv6(44, 3, fragHdr(0, true, ports)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ha, hb := FlowHash(tc.a), FlowHash(tc.b)
			assert.NotZero(t, ha)
			if tc.same {
				assert.Equal(t, ha, hb)
			} else {
				assert.NotEqual(t, ha, hb)
			}
		})
	}
}

// Frames that are not IP, or too short for their header, hash to 0 without reading past
// their end; a bogus IHL reads nothing beyond the frame.
func TestFlowHashShort(t *testing.T) {
	for _, f := range [][]byte{nil, make([]byte, 14), ipv4(17, 0, 1, 2, nil)[:14+19], ipv6(17, 1, nil)[:14+39]} {
		assert.Zero(t, FlowHash(f))
	}
	f := ipv4(17, 0, 1, 2, nil)
	f[14] = 0x4f // IHL 60, beyond the frame: no ports
	assert.NotZero(t, FlowHash(f))
	f[14] = 0x41 // IHL 4, shorter than a header: no ports
	assert.NotZero(t, FlowHash(f))
	assert.Zero(t, testing.AllocsPerRun(10, func() { FlowHash(f) }))
}

// The queue is the hash modulo the queue count: flows whose ports differ only in the higher
// bits of each byte (here every byte a multiple of 8) must spread over every queue too.
func TestFlowHashSpreadsOverQueues(t *testing.T) {
	for _, queues := range []uint32{2, 4, 8} {
		seen := make([]int, queues)
		for a := range 16 {
			for b := range 16 {
				l4 := []byte{byte(8 * a), byte(8 * b), 0, 80}
				seen[FlowHash(ipv4(6, 0, 1, 2, l4))%queues]++
			}
		}
		for q, n := range seen {
			assert.GreaterOrEqual(t, n, 256/int(queues)/2, "queue %d of %d: %v", q, queues, seen)
		}
	}
}
