// Writer tests: exact layout, round trips, truncation, metadata, concurrency, errors, allocations.

package pcap

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unhex decodes hex written with spaces and line breaks between the fields.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	require.NoError(t, err)
	return b
}

func TestHeaderLayout(t *testing.T) {
	// Written out by hand from the draft's figures, not from the writer's constants.
	shb := `0a0d0d0a 3c000000
		4d3c2b1a 0100 0000 ffffffffffffffff
		0400 1500 ` + hex.EncodeToString([]byte("tamaxen netfront/pcap")) + ` 000000
		0000 0000
		3c000000`
	idb := `01000000 28000000
		0100 0000 00000400
		0200 0400 ` + hex.EncodeToString([]byte("vif0")) + `
		0900 0100 09 000000
		0000 0000
		28000000`
	noName := `01000000 20000000
		0100 0000 40000000
		0900 0100 09 000000
		0000 0000
		20000000`
	tests := []struct {
		name    string
		iface   string
		snaplen int
		want    string
	}{
		{"named, default snaplen", "vif0", 0, shb + idb},
		{"no if_name, snaplen 64", "", 64, shb + noName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := NewWriter(&buf, tt.iface, tt.snaplen)
			require.NoError(t, err)
			assert.Equal(t, hex.EncodeToString(unhex(t, tt.want)), hex.EncodeToString(buf.Bytes()),
				"headers are flushed by NewWriter")
		})
	}
}

func TestPacketLayout(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, "vif0", 0)
	require.NoError(t, err)
	hdr := buf.Len()
	m := Meta{Queue: 1, CsumBlank: true, DataValidated: true, GSOType: 1, GSOSize: 1448}
	require.NoError(t, w.WritePacket(time.Unix(1, 2), Outbound, []byte("abcde"), m))
	require.NoError(t, w.Close())

	comment := "queue=1 gso=tcpv4 mss=1448 csum=partial,validated"
	want := unhex(t, `06000000 74000000
		00000000 00000000 02ca9a3b 05000000 05000000
		6162636465 000000
		0200 0400 020a0000
		0600 0400 01000000
		0100 3100 `+hex.EncodeToString([]byte(comment))+` 000000
		0000 0000
		74000000`)
	assert.Equal(t, hex.EncodeToString(want), hex.EncodeToString(buf.Bytes()[hdr:]))
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, "vif0", 0)
	require.NoError(t, err)

	base := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	tests := []struct {
		size    int
		wantPad int
	}{
		{0, 0}, {1, 3}, {2, 2}, {3, 1}, {4, 0}, {5, 3},
		{60, 0}, {61, 3}, {1514, 2}, {9018, 2}, {65550, 2},
	}
	for i, tt := range tests {
		frame := make([]byte, tt.size)
		for j := range frame {
			frame[j] = byte(i*31 + j)
		}
		require.NoError(t, w.WritePacket(base.Add(time.Duration(i)*time.Microsecond), Inbound, frame, Meta{Queue: i}))
	}
	require.NoError(t, w.Close())
	assert.Equal(t, uint64(len(tests)), w.Packets())

	c, err := readCapture(&buf)
	require.NoError(t, err)
	assert.Equal(t, uint16(1), c.Major)
	assert.Equal(t, uint16(0), c.Minor)
	assert.Equal(t, int64(-1), c.SectionLength)
	assert.Equal(t, userAppl, c.UserAppl)
	require.Len(t, c.Interfaces, 1)
	assert.Equal(t, iface{LinkType: 1, SnapLen: DefaultSnaplen, Name: "vif0", TSResol: 9}, c.Interfaces[0])
	require.Len(t, c.Packets, len(tests))
	for i, tt := range tests {
		p := c.Packets[i]
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			assert.Equal(t, uint32(0), p.Interface)
			assert.Equal(t, uint64(base.UnixNano())+uint64(i)*1000, p.Timestamp)
			assert.Equal(t, uint32(tt.size), p.CapLen)
			assert.Equal(t, uint32(tt.size), p.OrigLen)
			assert.Len(t, p.Data, tt.size)
			for j, x := range p.Data {
				if x != byte(i*31+j) {
					require.Failf(t, "data", "octet %d is %#x", j, x)
				}
			}
			// header 28 + data + padding + flags 8 + queue 8 + end 4 + trailer 4
			assert.Equal(t, uint32(28+tt.size+tt.wantPad+24), p.BlockLen)
			assert.True(t, p.HasQueue)
			assert.Equal(t, uint32(i), p.Queue)
			assert.Empty(t, p.Comments, "no offload metadata, no comment")
		})
	}
}

func TestSnaplen(t *testing.T) {
	tests := []struct {
		snaplen  int
		frame    int
		wantSnap uint32
		wantCap  uint32
	}{
		{0, 1514, DefaultSnaplen, 1514},
		{0, DefaultSnaplen + 1, DefaultSnaplen, DefaultSnaplen},
		{64, 63, 64, 63},
		{64, 64, 64, 64},
		{64, 65, 64, 64},
		{64, 1514, 64, 64},
		{65, 1514, 65, 65}, // truncation needs padding too
		{1, 0, 1, 0},
		{MaxSnaplen, 100, MaxSnaplen, 100},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("snaplen %d frame %d", tt.snaplen, tt.frame), func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, "vif0", tt.snaplen)
			require.NoError(t, err)
			frame := bytes.Repeat([]byte{0xA5}, tt.frame)
			require.NoError(t, w.WritePacket(time.Unix(0, 0), Outbound, frame, Meta{}))
			require.NoError(t, w.Close())
			c, err := readCapture(&buf)
			require.NoError(t, err)
			assert.Equal(t, tt.wantSnap, c.Interfaces[0].SnapLen)
			require.Len(t, c.Packets, 1)
			p := c.Packets[0]
			assert.Equal(t, tt.wantCap, p.CapLen)
			assert.Equal(t, uint32(tt.frame), p.OrigLen)
			assert.Equal(t, frame[:tt.wantCap], p.Data)
		})
	}
}

func TestNewWriterInvalid(t *testing.T) {
	tests := []struct {
		name    string
		iface   string
		snaplen int
	}{
		{"negative snaplen", "vif0", -1},
		{"snaplen too large", "vif0", MaxSnaplen + 1},
		{"name longer than an option", strings.Repeat("x", 65536), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, tt.iface, tt.snaplen)
			require.ErrorIs(t, err, ErrInvalid)
			assert.Nil(t, w)
			assert.Zero(t, buf.Len(), "nothing written")
		})
	}
}

func TestMetadata(t *testing.T) {
	tests := []struct {
		name        string
		dir         Direction
		m           Meta
		wantFlags   uint32
		wantComment string // "" for none
	}{
		{"plain inbound", Inbound, Meta{}, 0x1, ""},
		{"plain outbound", Outbound, Meta{}, 0x2, ""},
		{"no direction", DirectionUnknown, Meta{}, 0x0, ""},
		{"queue only", Inbound, Meta{Queue: 3}, 0x1, ""},
		{"csum partial", Outbound, Meta{Queue: 1, CsumBlank: true}, 0x2 | 1<<9, "queue=1 csum=partial"},
		{"csum validated", Inbound, Meta{DataValidated: true}, 0x1 | 1<<10, "queue=0 csum=validated"},
		{"csum partial and validated", Inbound, Meta{Queue: 2, CsumBlank: true, DataValidated: true},
			0x1 | 1<<9, "queue=2 csum=partial,validated"},
		{"tso v4", Outbound, Meta{Queue: 1, GSOType: 1, GSOSize: 1448, CsumBlank: true},
			0x2 | 1<<9 | 1<<11, "queue=1 gso=tcpv4 mss=1448 csum=partial"},
		{"tso v6 validated", Inbound, Meta{Queue: 7, GSOType: 2, GSOSize: 1428, DataValidated: true},
			0x1 | 1<<10 | 1<<11, "queue=7 gso=tcpv6 mss=1428 csum=validated"},
		{"gso without csum", Outbound, Meta{GSOType: 2, GSOSize: 1220}, 0x2 | 1<<11, "queue=0 gso=tcpv6 mss=1220"},
		{"unknown gso type", Inbound, Meta{GSOType: 9, GSOSize: 536}, 0x1 | 1<<11, "queue=0 gso=9 mss=536"},
		{"mss without type", Inbound, Meta{GSOSize: 1}, 0x1, "queue=0 mss=1"},
		{"largest values", Outbound, Meta{Queue: 1<<31 - 1, CsumBlank: true, DataValidated: true, GSOType: 255, GSOSize: 65535},
			0x2 | 1<<9 | 1<<11, "queue=2147483647 gso=255 mss=65535 csum=partial,validated"},
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, "vif0", 0)
	require.NoError(t, err)
	for _, tt := range tests {
		require.NoError(t, w.WritePacket(time.Now(), tt.dir, []byte{1, 2, 3}, tt.m), tt.name)
	}
	require.NoError(t, w.Close())
	c, err := readCapture(&buf)
	require.NoError(t, err)
	require.Len(t, c.Packets, len(tests))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := c.Packets[i]
			require.True(t, p.HasFlags)
			assert.Equal(t, fmt.Sprintf("%#x", tt.wantFlags), fmt.Sprintf("%#x", p.Flags))
			assert.Equal(t, uint32(tt.dir), p.Flags&3, "direction bits")
			assert.True(t, p.HasQueue)
			assert.Equal(t, uint32(tt.m.Queue), p.Queue)
			if tt.wantComment == "" {
				assert.Empty(t, p.Comments)
			} else {
				assert.Equal(t, []string{tt.wantComment}, p.Comments)
			}
		})
	}
}

func TestDirection(t *testing.T) {
	tests := []struct {
		d       Direction
		str     string
		wantErr error
	}{
		{DirectionUnknown, "unknown", nil},
		{Inbound, "inbound", nil},
		{Outbound, "outbound", nil},
		{3, "Direction(3)", ErrDirection},
		{255, "Direction(255)", ErrDirection},
	}
	w, err := NewWriter(io.Discard, "vif0", 0)
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.str, func(t *testing.T) {
			assert.Equal(t, tt.str, tt.d.String())
			assert.ErrorIs(t, w.WritePacket(time.Now(), tt.d, nil, Meta{}), tt.wantErr)
		})
	}
	assert.Equal(t, uint64(3), w.Packets(), "rejected packets are not counted")
	require.NoError(t, w.WritePacket(time.Now(), Inbound, nil, Meta{}), "a bad direction does not poison the writer")
}

func TestNegativeQueue(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, "vif0", 0)
	require.NoError(t, err)
	require.NoError(t, w.WritePacket(time.Now(), Inbound, nil, Meta{Queue: -1}))
	require.NoError(t, w.Close())
	c, err := readCapture(&buf)
	require.NoError(t, err)
	assert.False(t, c.Packets[0].HasQueue, "epb_queue is unsigned; a negative queue is left out")
}

func TestTimestamps(t *testing.T) {
	tests := []struct {
		name string
		ts   time.Time
		want uint64
	}{
		{"epoch", time.Unix(0, 0), 0},
		{"nanoseconds kept", time.Unix(1700000000, 999999999), 1700000000999999999},
		{"local zone", time.Date(2024, 2, 29, 1, 2, 3, 4, time.FixedZone("X", 3600)), uint64(time.Date(2024, 2, 29, 0, 2, 3, 4, time.UTC).UnixNano())},
		{"before 1970", time.Unix(-1, 0), 0},
		{"zero time", time.Time{}, 0},
		{"past 2262, beyond UnixNano", time.Unix(10_000_000_000, 5), 10_000_000_000_000_000_005},
		{"past 2554, saturates", time.Unix(20_000_000_000, 0), 1<<64 - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, nanoseconds(tt.ts))
		})
	}
}

func TestConcurrentWriters(t *testing.T) {
	const writers, perWriter = 8, 200
	var buf bytes.Buffer
	w, err := NewWriter(&buf, "vif0", 0)
	require.NoError(t, err)

	frame := func(g, i int) []byte {
		f := make([]byte, 2+(g*perWriter+i)%97)
		f[0], f[1] = byte(g), byte(i)
		for j := 2; j < len(f); j++ {
			f[j] = byte(g ^ i ^ j)
		}
		return f
	}
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				dir := Inbound
				if i%2 == 1 {
					dir = Outbound
				}
				if err := w.WritePacket(time.Now(), dir, frame(g, i), Meta{Queue: g, CsumBlank: i%3 == 0}); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					_ = w.Packets()
					if err := w.Flush(); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, w.Close())
	assert.Equal(t, uint64(writers*perWriter), w.Packets())

	c, err := readCapture(&buf)
	require.NoError(t, err)
	require.Len(t, c.Packets, writers*perWriter)
	next := make([]int, writers) // each writer's packets appear in the order it wrote them
	for _, p := range c.Packets {
		g, i := int(p.Data[0]), int(p.Data[1])
		require.Less(t, g, writers)
		require.Equal(t, next[g]&0xFF, i, "writer %d", g)
		require.Equal(t, frame(g, next[g]), p.Data)
		require.Equal(t, uint32(g), p.Queue)
		next[g]++
	}
}

// failWriter accepts limit octets, then fails every write.
type failWriter struct {
	limit, n int
	writes   int
}

var errDisk = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	f.writes++
	if room := f.limit - f.n; len(p) > room {
		f.n += max(room, 0)
		return max(room, 0), errDisk
	}
	f.n += len(p)
	return len(p), nil
}

func TestWriterErrors(t *testing.T) {
	var hdr bytes.Buffer
	_, err := NewWriter(&hdr, "vif0", 0)
	require.NoError(t, err)
	headers := hdr.Len()

	t.Run("headers", func(t *testing.T) {
		for _, limit := range []int{0, 1, headers - 1} {
			w, err := NewWriter(&failWriter{limit: limit}, "vif0", 0)
			require.ErrorIs(t, err, errDisk, "limit %d", limit)
			assert.Nil(t, w)
		}
	})

	tests := []struct {
		name        string
		frame       int
		wantAtWrite bool // a frame larger than the buffer goes straight through
		wantPackets uint64
	}{
		{"buffered, seen at flush", 100, false, 1},
		{"large frame, seen at once", bufferSize + 1, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fw := &failWriter{limit: headers}
			w, err := NewWriter(fw, "vif0", 0)
			require.NoError(t, err)
			err = w.WritePacket(time.Now(), Outbound, make([]byte, tt.frame), Meta{})
			if tt.wantAtWrite {
				require.ErrorIs(t, err, errDisk)
			} else {
				require.NoError(t, err)
				require.ErrorIs(t, w.Flush(), errDisk)
			}
			assert.Equal(t, tt.wantPackets, w.Packets())

			writes := fw.writes
			for range 3 {
				assert.ErrorIs(t, w.WritePacket(time.Now(), Inbound, make([]byte, 60), Meta{}), errDisk)
				assert.ErrorIs(t, w.Flush(), errDisk)
			}
			assert.ErrorIs(t, w.Close(), errDisk)
			assert.ErrorIs(t, w.Close(), errDisk, "again")
			assert.ErrorIs(t, w.WritePacket(time.Now(), Inbound, nil, Meta{}), errDisk, "the first error wins over ErrClosed")
			assert.Equal(t, writes, fw.writes, "nothing more reaches a failed writer")
			assert.Equal(t, tt.wantPackets, w.Packets())
		})
	}
}

// closeRecorder notes whether Close was called on it.
type closeRecorder struct {
	bytes.Buffer
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestClose(t *testing.T) {
	var out closeRecorder
	w, err := NewWriter(&out, "vif0", 0)
	require.NoError(t, err)
	require.NoError(t, w.WritePacket(time.Now(), Inbound, []byte{1}, Meta{}))
	before := out.Len()
	require.NoError(t, w.Close())
	assert.Greater(t, out.Len(), before, "Close flushes")
	assert.False(t, out.closed, "Close leaves the underlying writer open")
	assert.NoError(t, w.Close(), "closing again is harmless")
	assert.ErrorIs(t, w.WritePacket(time.Now(), Inbound, []byte{1}, Meta{}), ErrClosed)
	assert.ErrorIs(t, w.Flush(), ErrClosed)
	assert.Equal(t, uint64(1), w.Packets())
	c, err := readCapture(&out)
	require.NoError(t, err)
	assert.Len(t, c.Packets, 1)
}

func TestWritePacketDoesNotAllocate(t *testing.T) {
	w, err := NewWriter(io.Discard, "vif0", 0)
	require.NoError(t, err)
	tests := []struct {
		name  string
		frame []byte
		m     Meta
	}{
		{"small, no metadata", make([]byte, 60), Meta{}},
		{"mtu, comment", make([]byte, 1514), Meta{Queue: 3, CsumBlank: true, DataValidated: true}},
		{"gso frame, comment", make([]byte, 65000), Meta{Queue: 1, GSOType: 1, GSOSize: 1448, CsumBlank: true}},
		{"truncated", make([]byte, DefaultSnaplen+100), Meta{GSOType: 2, GSOSize: 1428}},
	}
	ts := time.Now()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, w.WritePacket(ts, Outbound, tt.frame, tt.m)) // warm-up
			allocs := testing.AllocsPerRun(200, func() {
				if err := w.WritePacket(ts, Outbound, tt.frame, tt.m); err != nil {
					t.Fatal(err)
				}
			})
			assert.Zero(t, allocs)
		})
	}
}

func BenchmarkWritePacket(b *testing.B) {
	for _, size := range []int{60, 1514, 65000} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			w, err := NewWriter(io.Discard, "vif0", 0)
			require.NoError(b, err)
			frame := make([]byte, size)
			m := Meta{Queue: 1, GSOType: 1, GSOSize: 1448, CsumBlank: true}
			ts := time.Now()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := w.WritePacket(ts, Inbound, frame, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
