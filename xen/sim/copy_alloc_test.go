// GNTTABOP_copy on the datapath: no allocation per op, and idle active entries that never
// leak a pin into the next grant of the same ref.

package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/gnttab"
)

func TestGrantCopyDoesNotAllocate(t *testing.T) {
	x := newXen(t)
	dom0, guest := bootPair(t, x)
	src := fillPage(t, guest.Domain, 0xaa)
	dst := fillPage(t, guest.Domain, 0)
	sref, err := guest.Grants.Grant(0, src.Frame, true)
	require.NoError(t, err)
	dref, err := guest.Grants.Grant(0, dst.Frame, false)
	require.NoError(t, err)
	local := fillPage(t, dom0.Domain, 0)
	ops := []CopyOp{
		{Source: CopyPtr{Ref: uint64(sref), Domain: 7}, Dest: CopyPtr{Ref: uint64(local.Frame), Domain: xen.DOMID_SELF},
			Len: 1500, Flags: GNTCOPY_source_gref},
		{Source: CopyPtr{Ref: uint64(local.Frame), Domain: xen.DOMID_SELF}, Dest: CopyPtr{Ref: uint64(dref), Domain: 7},
			Len: 1500, Flags: GNTCOPY_dest_gref},
	}
	buf := make([]byte, len(ops)*SizeofGnttabCopy)
	for i := range ops {
		ops[i].Encode(buf[i*SizeofGnttabCopy:])
	}
	hv := dom0.Domain.Hypervisor()
	run := func() {
		if err := hv.GrantTableOp(GNTTABOP_copy, buf, uint32(len(ops))); err != nil {
			panic(err)
		}
	}
	run() // the first pin of each ref creates its active entry
	assert.Zero(t, testing.AllocsPerRun(1000, run))
	for i := range ops {
		var op CopyOp
		op.Decode(buf[i*SizeofGnttabCopy:])
		assert.Equal(t, gnttab.GNTST_okay, op.Status, "op %d", i)
	}
	assert.Equal(t, src.Data[:1500], dst.Data[:1500])
	// Idle entries leave no flag behind: both grants can end.
	assert.Zero(t, guest.Domain.grantEntry(sref)&(gnttab.GTF_reading|gnttab.GTF_writing))
	assert.Zero(t, guest.Domain.grantEntry(dref)&(gnttab.GTF_reading|gnttab.GTF_writing))
	require.NoError(t, guest.Grants.EndAccess(sref))
	require.NoError(t, guest.Grants.EndAccess(dref))
}

// A ref whose active entry is idle is looked up afresh when pinned again: a new grant of the
// same ref to another frame is what the next copy reaches.
func TestGrantCopyIdleEntryRefreshed(t *testing.T) {
	x := newXen(t)
	dom0, guest := bootPair(t, x)
	a, b := fillPage(t, guest.Domain, 1), fillPage(t, guest.Domain, 2)
	ref, err := guest.Grants.AllocRef()
	require.NoError(t, err)
	local := fillPage(t, dom0.Domain, 0)
	copyOne := func() gnttab.Status {
		ops := []CopyOp{{Source: CopyPtr{Ref: uint64(ref), Domain: 7},
			Dest: CopyPtr{Ref: uint64(local.Frame), Domain: xen.DOMID_SELF}, Len: 1, Flags: GNTCOPY_source_gref}}
		require.NoError(t, dom0.Domain.GrantCopy(ops))
		return ops[0].Status
	}
	require.NoError(t, guest.Grants.GrantAccess(ref, 0, a.Frame, true))
	require.Equal(t, gnttab.GNTST_okay, copyOne())
	assert.Equal(t, byte(1), local.Data[0])
	require.NoError(t, guest.Grants.EndAccess(ref))
	assert.Equal(t, gnttab.GNTST_permission_denied, copyOne(), "ended grant")
	require.NoError(t, guest.Grants.GrantAccess(ref, 0, b.Frame, true))
	require.Equal(t, gnttab.GNTST_okay, copyOne())
	assert.Equal(t, byte(2), local.Data[0], "the ref's new frame")
	// And a mapping after copies still counts from zero.
	m, err := dom0.Domain.MapGrant(7, ref, false)
	require.NoError(t, err)
	assert.Error(t, guest.Grants.EndAccess(ref), "mapped: in use")
	m.Unmap()
	m.Unmap()
	require.NoError(t, guest.Grants.EndAccess(ref))
}
