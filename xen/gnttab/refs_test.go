// Free-list tests: batch allocation, freeing rules, and waiting for references (backpressure).

package gnttab

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
)

func hangCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestFreeRules(t *testing.T) {
	tab, _, _, err := newTestTable(2, Config{})
	require.NoError(t, err)
	refs, err := tab.AllocRefs(3)
	require.NoError(t, err)
	assert.Equal(t, []xen.GrantRef{8, 9, 10}, refs, "lowest refs first, reserved ones skipped")

	require.NoError(t, tab.GrantAccess(refs[2], 1, arenaBase, false))
	tests := []struct {
		name string
		ref  xen.GrantRef
		want error
	}{
		{"reserved", GNTTAB_NR_RESERVED_ENTRIES - 1, ErrBadRef},
		{"console", GNTTAB_RESERVED_CONSOLE, ErrBadRef},
		{"not mapped", EntriesPerFrame, ErrBadRef},
		{"never allocated", 11, ErrBadRef},
		{"still granted", refs[2], ErrGranted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			free := tab.Free()
			assert.ErrorIs(t, tab.FreeRef(tt.ref), tt.want)
			assert.ErrorIs(t, tab.FreeRefs([]xen.GrantRef{refs[0], tt.ref}), tt.want)
			assert.Equal(t, free, tab.Free(), "nothing freed")
		})
	}
	assert.ErrorIs(t, tab.FreeRefs([]xen.GrantRef{refs[0], refs[1], refs[0]}), ErrBadRef, "duplicate")
	require.NoError(t, tab.FreeRefs(refs[:2]), "the failed batch changed nothing")
	assert.ErrorIs(t, tab.FreeRef(refs[0]), ErrBadRef, "double free")
	require.NoError(t, tab.Revoke(refs[2]))

	_, err = tab.AllocRefs(-1)
	assert.ErrorIs(t, err, xen.EINVAL)
}

func TestGrantAndRevoke(t *testing.T) {
	tab, x, _, err := newTestTable(1, Config{})
	require.NoError(t, err)
	ref, err := tab.Grant(3, arenaBase+2, true)
	require.NoError(t, err)
	_, st := x.mapGrant(3, ref, true)
	require.Equal(t, GNTST_okay, st)
	assert.ErrorIs(t, tab.Revoke(ref), ErrInUse)
	x.unmapGrant(ref, true)
	require.NoError(t, tab.Revoke(ref))

	_, err = tab.Grant(3, 1<<32, false)
	assert.ErrorIs(t, err, ErrFrameRange)
	assert.Equal(t, EntriesPerFrame-GNTTAB_NR_RESERVED_ENTRIES, tab.Free(), "failed Grant frees its ref")
}

// TestAllocRefsWait: when the table is full at its limit, waiters block (they neither spin nor
// fail) until enough references are freed, and give up with the context.
func TestAllocRefsWait(t *testing.T) {
	tab, _, _, err := newTestTable(1, Config{})
	require.NoError(t, err)
	all, err := tab.AllocRefs(tab.Free())
	require.NoError(t, err)
	_, err = tab.AllocRef()
	require.ErrorIs(t, err, ErrNoRefs)

	got := make(chan []xen.GrantRef)
	go func() {
		refs, err := tab.AllocRefsWait(hangCtx(t), 2)
		assert.NoError(t, err)
		got <- refs
	}()
	require.NoError(t, tab.FreeRef(all[0]))
	select {
	case <-got:
		t.Fatal("returned with one ref free")
	case <-time.After(10 * time.Millisecond): // only shows it did not return early
	}
	require.NoError(t, tab.FreeRef(all[1]))
	assert.ElementsMatch(t, all[:2], <-got)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := tab.AllocRefsWait(ctx, 1)
		done <- err
	}()
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)

	_, err = tab.AllocRefsWait(context.Background(), EntriesPerFrame)
	assert.ErrorIs(t, err, ErrNoRefs, "more than the table can ever hold fails at once")
}

// TestAllocRefsWaitMany: many goroutines compete for a small table; all finish.
func TestAllocRefsWaitMany(t *testing.T) {
	tab, _, _, err := newTestTable(1, Config{})
	require.NoError(t, err)
	ctx := hangCtx(t)
	const workers, rounds = 8, 200
	done := make(chan struct{})
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for range rounds {
				refs, err := tab.AllocRefsWait(ctx, 100)
				if !assert.NoError(t, err) {
					return
				}
				assert.NoError(t, tab.FreeRefs(refs))
			}
		}()
	}
	for range workers {
		<-done
	}
	assert.Equal(t, EntriesPerFrame-GNTTAB_NR_RESERVED_ENTRIES, tab.Free())
}

func TestInUseCountsAllocatedRefs(t *testing.T) {
	tab, _, _, err := newTestTable(4, Config{})
	require.NoError(t, err)
	assert.Zero(t, tab.InUse())
	refs, err := tab.AllocRefs(EntriesPerFrame + 3) // grows the table by a frame or two
	require.NoError(t, err)
	assert.Equal(t, EntriesPerFrame+3, tab.InUse())
	require.NoError(t, tab.FreeRefs(refs[:10]))
	assert.Equal(t, EntriesPerFrame-7, tab.InUse())
	require.NoError(t, tab.FreeRefs(refs[10:]))
	assert.Zero(t, tab.InUse())
}
