package shmem

import (
	"encoding/binary"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
)

// The words are the little-endian fields the wire layouts describe (x86 is little-endian).
func TestWordsAreTheLittleEndianFields(t *testing.T) {
	p := Pages(1)
	Store32(p, 8, 0x11223344)
	Store64(p, 16, 0x0102030405060708)
	assert.Equal(t, uint32(0x11223344), binary.LittleEndian.Uint32(p[8:]))
	assert.Equal(t, uint64(0x0102030405060708), binary.LittleEndian.Uint64(p[16:]))

	binary.LittleEndian.PutUint32(p[100:], 7)
	binary.LittleEndian.PutUint64(p[200:], 9)
	assert.Equal(t, uint32(7), Load32(p, 100))
	assert.Equal(t, uint64(9), Load64(p, 200))
	assert.Equal(t, uint32(8), Uint32(p, 100).Add(1))
	assert.Equal(t, uint64(1|9), Uint64(p, 200).Or(1)|1)
}

// An offset outside the view panics instead of reaching the memory after it.
func TestOutOfBoundsPanics(t *testing.T) {
	p := Pages(1)
	assert.Panics(t, func() { Load32(p[:8], 8) })
	assert.Panics(t, func() { Load64(p[:12], 8) })
	assert.Panics(t, func() { Store32(p, xen.PageSize-2, 1) })
}

func TestAligned(t *testing.T) {
	p := Pages(1)
	assert.True(t, Aligned(p, xen.PageSize))
	assert.True(t, Aligned(p[8:], 8))
	assert.False(t, Aligned(p[4:], 8))
	assert.True(t, Aligned(p[4:], 4))
	assert.False(t, Aligned(p[:0], 4), "an empty view has no words")
}

func TestPages(t *testing.T) {
	for _, n := range []int{1, 2, 5} {
		p := Pages(n)
		require.Len(t, p, n*xen.PageSize)
		assert.Equal(t, n*xen.PageSize, cap(p), "appending must not run into the next allocation")
		assert.True(t, Aligned(p, xen.PageSize))
		assert.Equal(t, make([]byte, n*xen.PageSize), p)
	}
}

// Concurrent read-modify-writes on one word lose nothing (run with -race).
func TestConcurrentOr(t *testing.T) {
	p := Pages(1)
	var wg sync.WaitGroup
	for bit := range 64 {
		wg.Go(func() { Uint64(p, 64).Or(1 << bit) })
	}
	wg.Wait()
	assert.Equal(t, ^uint64(0), Load64(p, 64))
}

func TestDoesNotAllocate(t *testing.T) {
	p := Pages(1)
	n := testing.AllocsPerRun(100, func() {
		Store32(p, 4, Load32(p, 4)+1)
		Uint64(p, 8).Add(1)
	})
	assert.Zero(t, n)
}
