// The v1 grant protocol against a backend that maps grants as Xen does, including the race
// between ending access and a mapping in progress.

package gnttab

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
)

func TestGrantProtocol(t *testing.T) {
	const backend xen.DomID = 5
	tests := []struct {
		name       string
		readonly   bool
		mapDom     xen.DomID
		mapRO      bool
		wantStatus Status
	}{
		{"rw grant, rw map", false, backend, false, GNTST_okay},
		{"rw grant, ro map", false, backend, true, GNTST_okay},
		{"ro grant, ro map", true, backend, true, GNTST_okay},
		{"ro grant, rw map", true, backend, false, GNTST_permission_denied},
		{"wrong domain", false, backend + 1, false, GNTST_permission_denied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, x, mem, err := newTestTable(1, Config{})
			require.NoError(t, err)
			pg, err := mem.AllocPage()
			require.NoError(t, err)
			ref, err := tab.AllocRef()
			require.NoError(t, err)

			require.NoError(t, tab.GrantAccess(ref, backend, pg.Frame, tt.readonly))
			e := x.entry(ref)
			wantFlags := uint16(GTF_permit_access)
			if tt.readonly {
				wantFlags |= GTF_readonly
			}
			assert.Equal(t, wantFlags, le.Uint16(e[OffsetofGrantEntryV1Flags:]))
			assert.Equal(t, uint16(backend), le.Uint16(e[OffsetofGrantEntryV1Domid:]))
			assert.Equal(t, uint32(pg.Frame), le.Uint32(e[OffsetofGrantEntryV1Frame:]))
			assert.ErrorIs(t, tab.GrantAccess(ref, backend, pg.Frame, false), ErrGranted)

			page, st := x.mapGrant(tt.mapDom, ref, tt.mapRO)
			require.Equal(t, tt.wantStatus, st)
			if st == GNTST_okay {
				assert.Equal(t, &pg.Data[0], &page[0], "the backend sees the granted page")
				assert.ErrorIs(t, tab.EndAccess(ref), ErrInUse)
				assert.ErrorIs(t, tab.FreeRef(ref), ErrGranted)
				x.unmapGrant(ref, tt.mapRO)
			}
			require.NoError(t, tab.EndAccess(ref))
			assert.Zero(t, le.Uint16(e[OffsetofGrantEntryV1Flags:]))
			_, st = x.mapGrant(backend, ref, true)
			assert.Equal(t, GNTST_permission_denied, st, "no access after EndAccess")
			require.NoError(t, tab.EndAccess(ref), "ending twice is harmless")
			require.NoError(t, tab.FreeRef(ref))
		})
	}
}

func TestGrantAccessRejects(t *testing.T) {
	tab, _, _, err := newTestTable(2, Config{})
	require.NoError(t, err)
	assert.ErrorIs(t, tab.GrantAccess(GNTTAB_RESERVED_XENSTORE, 0, arenaBase, false), ErrBadRef)
	assert.ErrorIs(t, tab.GrantAccess(EntriesPerFrame, 0, arenaBase, false), ErrBadRef, "frame not mapped yet")
	assert.ErrorIs(t, tab.GrantAccess(8, 0, 1<<32, false), ErrFrameRange)
	assert.ErrorIs(t, tab.EndAccess(3), ErrBadRef)
}

// TestEndAccessRacesBackend: a backend goroutine maps and unmaps the grant in a loop (readonly
// and writable, sometimes as the wrong domain) and writes the page while it holds a writable
// mapping; the guest re-grants a page and ends access as fast as it can, and writes the page as
// soon as EndAccess succeeds. The race detector reports a backend write after a successful
// EndAccess; the assertions catch mappings the grant did not permit.
func TestEndAccessRacesBackend(t *testing.T) {
	const backend xen.DomID = 5
	tab, x, mem, err := newTestTable(1, Config{})
	require.NoError(t, err)
	ref, err := tab.AllocRef()
	require.NoError(t, err)
	var pages [2]xen.Page
	for i := range pages {
		pages[i], err = mem.AllocPage()
		require.NoError(t, err)
	}

	var (
		stop     atomic.Bool
		readonly atomic.Bool // what the guest currently grants
		maps     atomic.Int64
		wg       sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			dom, ro := backend, i%2 == 0
			if i%7 == 0 {
				dom = backend + 1
			}
			page, st := x.mapGrant(dom, ref, ro)
			if st != GNTST_okay {
				runtime.Gosched()
				continue
			}
			assert.Equal(t, backend, dom, "mapped by the wrong domain")
			if !ro {
				assert.False(t, readonly.Load(), "writable mapping of a read-only grant")
				page[0]++
			} else {
				_ = page[0]
			}
			maps.Add(1)
			x.unmapGrant(ref, ro)
		}
	}()

	inUse := 0
	// 3000 rounds, and on a loaded host as many more as it takes the backend goroutine to be
	// scheduled and map the grant at least once (bounded, so a backend that never can fails).
	for i := 0; i < 3000 || maps.Load() == 0 && i < 1_000_000; i++ {
		pg := pages[i%2]
		ro := i%3 == 0
		readonly.Store(ro)
		require.NoError(t, tab.GrantAccess(ref, backend, pg.Frame, ro))
		runtime.Gosched()
		for {
			err := tab.EndAccess(ref)
			if err == nil {
				break
			}
			require.ErrorIs(t, err, ErrInUse)
			inUse++
			runtime.Gosched()
		}
		pg.Data[0] = 0 // ours again: a concurrent backend write would be a reported race
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("backend mappings %d, EndAccess found the grant in use %d times", maps.Load(), inUse)
	assert.Positive(t, maps.Load())
}

func TestEndAccessDeferred(t *testing.T) {
	tab, x, mem, err := newTestTable(1, Config{RetryInterval: time.Millisecond})
	require.NoError(t, err)
	free := tab.Free()
	pg, err := mem.AllocPage()
	require.NoError(t, err)

	ref, err := tab.Grant(5, pg.Frame, false)
	require.NoError(t, err)
	_, st := x.mapGrant(5, ref, false)
	require.Equal(t, GNTST_okay, st)

	done := make(chan struct{})
	require.NoError(t, tab.EndAccessDeferred(ref, func() { close(done) }))
	assert.Equal(t, 1, tab.Deferred())
	assert.Equal(t, 1, tab.RetryDeferred(), "still mapped")
	select {
	case <-done:
		t.Fatal("done before the backend unmapped")
	default:
	}
	x.unmapGrant(ref, false)
	select {
	case <-done:
	case <-hangCtx(t).Done():
		t.Fatal("the retry timer never ended access")
	}
	assert.Equal(t, 0, tab.Deferred())
	assert.Equal(t, free, tab.Free(), "ref freed")

	// Immediate success calls done at once; unallocated refs are refused.
	ref, err = tab.Grant(5, pg.Frame, false)
	require.NoError(t, err)
	called := false
	require.NoError(t, tab.EndAccessDeferred(ref, func() { called = true }))
	assert.True(t, called)
	assert.ErrorIs(t, tab.EndAccessDeferred(ref, nil), ErrBadRef)
}

func TestRetryDeferredAfterClose(t *testing.T) {
	tab, x, _, err := newTestTable(1, Config{RetryInterval: time.Hour})
	require.NoError(t, err)
	ref, err := tab.Grant(5, arenaBase, true)
	require.NoError(t, err)
	_, st := x.mapGrant(5, ref, true)
	require.Equal(t, GNTST_okay, st)
	require.NoError(t, tab.EndAccessDeferred(ref, nil))
	tab.Close()
	x.unmapGrant(ref, true)
	assert.Equal(t, 0, tab.RetryDeferred())
	assert.Equal(t, EntriesPerFrame-GNTTAB_NR_RESERVED_ENTRIES, tab.Free())
}
