package tso

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/internal/csum"
)

// tcpFrame builds an Ethernet frame with a TCP segment of n payload bytes and a partial
// checksum, over IPv4 or IPv6.
func tcpFrame(v6 bool, n int, flags byte) []byte {
	ipLen := 20
	if v6 {
		ipLen = 40
	}
	f := make([]byte, 14+ipLen+32+n)
	ip := f[14:]
	if v6 {
		f[12], f[13] = 0x86, 0xdd
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(32+n))
		ip[6], ip[7] = 6, 64
		ip[8], ip[39] = 0xfd, 1
		ip[24], ip[39+0] = 0xfd, 2
	} else {
		f[12], f[13] = 0x08, 0x00
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+32+n))
		binary.BigEndian.PutUint16(ip[4:], 1000)
		ip[6] = 0x40 // DF
		ip[8], ip[9] = 64, 6
		copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
		binary.BigEndian.PutUint16(ip[10:], ^csum.Sum(ip[:20], 0))
	}
	tcp := f[14+ipLen:]
	binary.BigEndian.PutUint16(tcp[0:], 80)
	binary.BigEndian.PutUint16(tcp[2:], 5555)
	binary.BigEndian.PutUint32(tcp[4:], 0xfffff000) // wraps during the frame
	tcp[12] = 8 << 4                                // 12 bytes of options
	tcp[13] = flags
	for i := range n {
		tcp[32+i] = byte(i * 7)
	}
	binary.BigEndian.PutUint16(tcp[16:], csum.Pseudo(f))
	return f
}

func TestSegment(t *testing.T) {
	for _, tc := range []struct {
		name    string
		v6      bool
		n, mss  int
		flags   byte
		partial bool
	}{
		{"v4 exact multiple", false, 1448 * 4, 1448, flagPSH | 0x10, false},
		{"v4 remainder FIN", false, 65000, 1448, flagFIN | flagPSH | flagCWR | 0x10, false},
		{"v4 partial", false, 3000, 1000, 0x10, true},
		{"v6", true, 9000, 1428, flagPSH | flagCWR | 0x10, false},
		{"v6 partial", true, 100, 1428, flagFIN, true},
		{"no payload", false, 0, 1448, 0x10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tcpFrame(tc.v6, tc.n, tc.flags)
			orig := append([]byte(nil), f...)
			var segs [][]byte
			_, err := Segment(f, tc.mss, tc.partial, nil, func(b []byte) { segs = append(segs, append([]byte(nil), b...)) })
			require.NoError(t, err)
			assert.Equal(t, orig, f, "input untouched")
			want := max(1, (tc.n+tc.mss-1)/tc.mss)
			require.Len(t, segs, want)
			var payload []byte
			hdr := len(f) - tc.n
			for i, s := range segs {
				if tc.partial {
					require.True(t, csum.Complete(s))
				}
				assert.True(t, csum.Valid(s), "segment %d checksum", i)
				assert.Equal(t, csum.Good, csum.Verify(s, false), "segment %d", i)
				tcp := s[hdr-32:]
				assert.Equal(t, uint32(0xfffff000)+uint32(i*tc.mss), binary.BigEndian.Uint32(tcp[4:]), "seq of %d", i)
				fl := tcp[13]
				last := i == len(segs)-1
				assert.Equal(t, last && tc.flags&flagFIN != 0, fl&flagFIN != 0, "FIN on %d", i)
				assert.Equal(t, last && tc.flags&flagPSH != 0, fl&flagPSH != 0, "PSH on %d", i)
				assert.Equal(t, i == 0 && tc.flags&flagCWR != 0, fl&flagCWR != 0, "CWR on %d", i)
				if !tc.v6 {
					assert.Equal(t, uint16(1000+i), binary.BigEndian.Uint16(s[18:]), "IPv4 ID")
				}
				assert.LessOrEqual(t, len(s)-hdr, tc.mss)
				payload = append(payload, s[hdr:]...)
			}
			assert.True(t, bytes.Equal(f[hdr:], payload), "payload reassembles")
		})
	}
}

func TestSegmentRefuses(t *testing.T) {
	udp := tcpFrame(false, 100, 0)
	udp[14+9] = 17
	frag := tcpFrame(false, 100, 0)
	frag[14+6] = 0x20 // MF
	for name, f := range map[string][]byte{
		"runt": {1, 2, 3}, "udp": udp, "fragment": frag, "truncated": tcpFrame(false, 100, 0)[:60],
		"arp": append(make([]byte, 12), 0x08, 0x06, 0, 0),
	} {
		_, err := Segment(f, 1000, false, nil, func([]byte) { t.Fatalf("%s: emitted", name) })
		assert.ErrorIs(t, err, ErrNotTCP, name)
	}
	_, err := Segment(tcpFrame(false, 10, 0), 0, false, nil, func([]byte) {})
	assert.ErrorIs(t, err, ErrNotTCP, "mss 0")
}

func FuzzSegment(f *testing.F) {
	f.Add(tcpFrame(false, 3000, flagFIN), 1000, false)
	f.Add(tcpFrame(true, 3000, flagPSH), 1448, true)
	f.Fuzz(func(t *testing.T, frame []byte, mss int, partial bool) {
		if mss > 1<<16 {
			mss = 1 << 16
		}
		if mss < 1 || len(frame) > 1<<17 {
			return
		}
		n := 0
		_, _ = Segment(frame, mss, partial, nil, func(b []byte) {
			n++
			if n > len(frame)+1 {
				t.Fatal("too many segments")
			}
		})
	})
}
