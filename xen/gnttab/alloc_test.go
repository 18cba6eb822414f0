// The grant hot path must not allocate; benchmarks for it and for the free list.

package gnttab

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
)

func TestAllocsHotPath(t *testing.T) {
	tab, _, _, err := newTestTable(2, Config{})
	require.NoError(t, err)
	ref, err := tab.AllocRef()
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(1000, func() {
		if tab.GrantAccess(ref, 1, arenaBase, false) != nil || tab.EndAccess(ref) != nil {
			panic("grant")
		}
	}), "GrantAccess+EndAccess")

	// Fill and empty the whole table once so every growth has happened, then measure.
	refs, err := tab.AllocRefs(int(tab.capacity()) - 1)
	require.NoError(t, err)
	require.NoError(t, tab.FreeRefs(refs))
	assert.Zero(t, testing.AllocsPerRun(1000, func() {
		r, err := tab.AllocRef()
		if err != nil || tab.FreeRef(r) != nil {
			panic("alloc")
		}
	}), "AllocRef+FreeRef")
	batch := make([]xen.GrantRef, 64)
	assert.Zero(t, testing.AllocsPerRun(1000, func() {
		if tab.AllocRefsInto(batch) != nil || tab.FreeRefs(batch) != nil {
			panic("batch")
		}
	}), "AllocRefsInto+FreeRefs")
}

func BenchmarkGrantEnd(b *testing.B) {
	tab, _, _, err := newTestTable(1, Config{})
	require.NoError(b, err)
	ref, err := tab.AllocRef()
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		_ = tab.GrantAccess(ref, 1, arenaBase, false)
		_ = tab.EndAccess(ref)
	}
}

func BenchmarkAllocFree(b *testing.B) {
	tab, _, _, err := newTestTable(1, Config{})
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		r, _ := tab.AllocRef()
		_ = tab.FreeRef(r)
	}
}

func BenchmarkAllocFreeBatch64(b *testing.B) {
	tab, _, _, err := newTestTable(1, Config{})
	require.NoError(b, err)
	batch := make([]xen.GrantRef, 64)
	b.ReportAllocs()
	for b.Loop() {
		_ = tab.AllocRefsInto(batch)
		_ = tab.FreeRefs(batch)
	}
}
