// Set-up tests: query_size, mapping frames with add_to_physmap, growth, and every failure.

package gnttab

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
)

func TestNewMapsFirstFrame(t *testing.T) {
	tab, x, mem, err := newTestTable(4, Config{})
	require.NoError(t, err)

	assert.Equal(t, []byte{0xf0, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, x.queryArg,
		"query_size for DOMID_SELF")
	require.Len(t, x.mapArgs, 1)
	assert.Equal(t, []byte{
		0xf0, 0x7f, 0, 0, // domid DOMID_SELF, size 0
		xen.XENMAPSPACE_grant_table, 0, 0, 0, // space
		0, 0, 0, 0, 0, 0, 0, 0, // idx 0
		byte(arenaBase & 0xff), byte(arenaBase >> 8), 0, 0, 0, 0, 0, 0, // gpfn
	}, x.mapArgs[0])

	mapped, limit := tab.Frames()
	assert.Equal(t, uint32(1), mapped)
	assert.Equal(t, uint32(4), limit)
	assert.Equal(t, EntriesPerFrame-GNTTAB_NR_RESERVED_ENTRIES, tab.Free())
	assert.Equal(t, 1, mem.allocs)

	// The mapped frame shows what Xen had in it: the toolstack's reserved grants survive.
	assert.Equal(t, uint32(0xfeffc), le.Uint32(tab.frames[0][12:]))
}

func TestNewFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*fakeXen, *fakeMem)
		want  error
	}{
		{"query_size status", func(x *fakeXen, _ *fakeMem) { x.status = GNTST_general_error }, GNTST_general_error},
		{"max_nr_frames 0", func(x *fakeXen, _ *fakeMem) { x.maxFrames = 0 }, xen.ErrBroken},
		{"nr_frames above max", func(x *fakeXen, _ *fakeMem) { x.nrFrames = 5; x.maxFrames = 4 }, xen.ErrBroken},
		{"no memory", func(_ *fakeXen, m *fakeMem) { m.fail = xen.ENOMEM }, xen.ENOMEM},
		{"add_to_physmap", func(x *fakeXen, _ *fakeMem) { x.failMap = xen.EPERM }, xen.EPERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := newFakeMem(8)
			x := newFakeXen(mem, 4)
			tt.setup(x, mem)
			tab, err := New(x, mem, Config{})
			assert.ErrorIs(t, err, tt.want)
			assert.Nil(t, tab)
			assert.Equal(t, mem.allocs, mem.frees, "a page that did not become a grant frame is returned")
		})
	}
	t.Run("hypercall error", func(t *testing.T) {
		_, err := New(errHV{xen.ENOSYS}, newFakeMem(1), Config{})
		assert.ErrorIs(t, err, xen.ENOSYS)
	})
	t.Run("nil", func(t *testing.T) {
		_, err := New(nil, nil, Config{})
		assert.Error(t, err)
	})
}

type errHV struct{ err error }

func (h errHV) EventChannelOp(uint32, []byte) error       { return h.err }
func (h errHV) GrantTableOp(uint32, []byte, uint32) error { return h.err }
func (h errHV) MemoryOp(uint32, []byte) (int64, error)    { return 0, h.err }
func (h errHV) HVMOp(uint32, []byte) error                { return h.err }

// positiveHV reports an unexpected positive result from add_to_physmap.
type positiveHV struct{ *fakeXen }

func (h positiveHV) MemoryOp(uint32, []byte) (int64, error) { return 1, nil }

func TestAddToPhysmapResultChecked(t *testing.T) {
	mem := newFakeMem(2)
	_, err := New(positiveHV{newFakeXen(mem, 2)}, mem, Config{})
	assert.ErrorContains(t, err, "unexpected result 1")
}

func TestMaxFramesCapped(t *testing.T) {
	tests := []struct {
		xenMax, cfg, want uint32
	}{
		{64, 0, 64},
		{64, 8, 8},
		{8, 64, 8},
		{0xffffffff, 0, MaxFramesCap},
	}
	for _, tt := range tests {
		mem := newFakeMem(2)
		tab, err := New(newFakeXen(mem, tt.xenMax), mem, Config{MaxFrames: tt.cfg})
		require.NoError(t, err)
		_, limit := tab.Frames()
		assert.Equal(t, tt.want, limit, "xen max %d, config %d", tt.xenMax, tt.cfg)
	}
}

// TestGrowth: frames are mapped one at a time, at consecutive indexes, only when needed, up to
// the limit; then allocation reports ErrNoRefs (an ENOSPC), and reserved refs never appear.
func TestGrowth(t *testing.T) {
	tab, x, _, err := newTestTable(3, Config{})
	require.NoError(t, err)

	seen := map[xen.GrantRef]bool{}
	take := func(n int) []xen.GrantRef {
		refs, err := tab.AllocRefs(n)
		require.NoError(t, err)
		for _, r := range refs {
			require.GreaterOrEqual(t, r, xen.GrantRef(GNTTAB_NR_RESERVED_ENTRIES))
			require.False(t, seen[r], "ref %d handed out twice", r)
			seen[r] = true
		}
		return refs
	}
	take(EntriesPerFrame - GNTTAB_NR_RESERVED_ENTRIES)
	mapped, _ := tab.Frames()
	assert.Equal(t, uint32(1), mapped, "frame 0 suffices")
	assert.Equal(t, []xen.GrantRef{EntriesPerFrame}, take(1))
	mapped, _ = tab.Frames()
	assert.Equal(t, uint32(2), mapped)

	_, err = tab.AllocRefs(2 * EntriesPerFrame)
	assert.ErrorIs(t, err, ErrNoRefs)
	assert.ErrorIs(t, err, xen.ENOSPC)
	assert.Equal(t, 2*EntriesPerFrame-1, tab.Free(), "all or nothing; the table grew to its limit")
	mapped, _ = tab.Frames()
	assert.Equal(t, uint32(3), mapped)
	take(2*EntriesPerFrame - 1)
	_, err = tab.AllocRef()
	assert.ErrorIs(t, err, ErrNoRefs)
	assert.Equal(t, 3*EntriesPerFrame-GNTTAB_NR_RESERVED_ENTRIES, len(seen))

	require.Len(t, x.mapArgs, 3)
	for i, a := range x.mapArgs {
		assert.Equal(t, uint64(i), le.Uint64(a[xen.OffsetofXenAddToPhysmapIdx:]), "frame index of mapping %d", i)
	}
	assert.Equal(t, uint32(3), x.nrFrames, "Xen grew its table with us")
}

func TestGrowthFailureIsReported(t *testing.T) {
	tab, x, mem, err := newTestTable(3, Config{})
	require.NoError(t, err)
	_, err = tab.AllocRefs(EntriesPerFrame - GNTTAB_NR_RESERVED_ENTRIES)
	require.NoError(t, err)

	x.failMap = xen.ENOMEM
	_, err = tab.AllocRef()
	assert.ErrorIs(t, err, xen.ENOMEM)
	assert.False(t, errors.Is(err, ErrNoRefs), "a failed mapping is not exhaustion")
	assert.Equal(t, mem.allocs-1, mem.frees, "page given back")

	_, err = tab.AllocRef()
	assert.NoError(t, err, "the next attempt maps the frame")
}

func TestStatusError(t *testing.T) {
	assert.Equal(t, "gnttab: permission denied", GNTST_permission_denied.Error())
	assert.Equal(t, "gnttab: status -99", Status(-99).Error())
	assert.Equal(t, "gnttab: status 3", Status(3).Error())
	assert.True(t, GNTST_eagain.Temporary())
	assert.False(t, GNTST_bad_page.Temporary())
}
