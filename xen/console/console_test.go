package console

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen/shmem"
)

func newPage() []byte { return shmem.Pages(1) }

// drain plays xenconsoled: it reads everything out of the out ring.
func drain(page []byte) []byte {
	cons := binary.LittleEndian.Uint32(page[OutConsOff:])
	prod := binary.LittleEndian.Uint32(page[OutProdOff:])
	var out []byte
	for ; cons != prod; cons++ {
		out = append(out, page[OutOff+int(cons%OutSize)])
	}
	binary.LittleEndian.PutUint32(page[OutConsOff:], cons)
	return out
}

func TestWriteWrapsAndDrops(t *testing.T) {
	tests := []struct {
		name  string
		start uint32
	}{
		{"from zero", 0},
		{"across u32 wrap", 0xffffffff - 10},
		{"mid ring", 1500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPage()
			binary.LittleEndian.PutUint32(p[OutConsOff:], tt.start)
			binary.LittleEndian.PutUint32(p[OutProdOff:], tt.start)
			r, err := New(p)
			require.NoError(t, err)
			msg := []byte("hello, xenconsoled\n")
			assert.Equal(t, len(msg), r.Write(msg))
			assert.Equal(t, msg, drain(p))

			big := make([]byte, OutSize+100)
			for i := range big {
				big[i] = byte(i)
			}
			assert.Equal(t, OutSize, r.Write(big))
			assert.Equal(t, uint64(100), r.Dropped())
			assert.Equal(t, big[:OutSize], drain(p))
		})
	}
}

func TestHostileConsumerIndex(t *testing.T) {
	p := newPage()
	r, err := New(p)
	require.NoError(t, err)
	binary.LittleEndian.PutUint32(p[OutConsOff:], 5000) // past the producer
	assert.Zero(t, r.Write([]byte("x")))
	assert.Equal(t, uint64(1), r.Dropped())
}

func TestRead(t *testing.T) {
	p := newPage()
	r, err := New(p)
	require.NoError(t, err)
	copy(p[InOff+InSize-2:], "ab")
	copy(p[InOff:], "cd")
	binary.LittleEndian.PutUint32(p[InConsOff:], InSize-2)
	binary.LittleEndian.PutUint32(p[InProdOff:], InSize+2)
	buf := make([]byte, 8)
	n := r.Read(buf)
	assert.Equal(t, "abcd", string(buf[:n]))
	assert.Zero(t, r.Read(buf))

	binary.LittleEndian.PutUint32(p[InProdOff:], 0x7fffffff) // hostile: more than the ring holds
	assert.Zero(t, r.Read(buf))
}

func TestNewRejectsBadPages(t *testing.T) {
	_, err := New(make([]byte, 100))
	assert.Error(t, err)
	p := shmem.Pages(2)
	_, err = New(p[1:4097])
	assert.Error(t, err)
}

func FuzzRing(f *testing.F) {
	f.Add(uint32(0), uint32(0), uint32(0), uint32(0), []byte("abc"))
	f.Add(uint32(0xffffffff), uint32(3), uint32(7), uint32(1), []byte{})
	f.Fuzz(func(t *testing.T, oc, op, ic, ip uint32, data []byte) {
		p := newPage()
		binary.LittleEndian.PutUint32(p[OutConsOff:], oc)
		binary.LittleEndian.PutUint32(p[OutProdOff:], op)
		binary.LittleEndian.PutUint32(p[InConsOff:], ic)
		binary.LittleEndian.PutUint32(p[InProdOff:], ip)
		r, err := New(p)
		require.NoError(t, err)
		n := r.Write(data)
		require.LessOrEqual(t, n, len(data))
		buf := make([]byte, 64)
		require.LessOrEqual(t, r.Read(buf), len(buf))
	})
}
