// Resume: the frames are mapped again in a new domain and granting works as before.

package gnttab

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
)

func TestResumeMapsEveryFrameAgain(t *testing.T) {
	tab, x, _, err := newTestTable(4, Config{})
	require.NoError(t, err)
	// Enough references to need a second frame.
	refs, err := tab.AllocRefs(EntriesPerFrame)
	require.NoError(t, err)
	held := refs[len(refs)-1]
	require.NoError(t, tab.GrantAccess(held, 0, arenaBase, false))
	mapped, _ := tab.Frames()
	require.Equal(t, uint32(2), mapped)

	// xl restore: Xen's grant table of the new domain is one fresh frame, with the toolstack's
	// seeded entries for the console and XenStore.
	fresh := newFakeXen(x.mem, 4)
	*x = fakeXen{mem: fresh.mem, nrFrames: fresh.nrFrames, maxFrames: fresh.maxFrames, frames: fresh.frames}
	require.NoError(t, tab.Resume())
	require.Len(t, x.mapArgs, 2, "both frames mapped again")
	for i, a := range x.mapArgs {
		assert.Equal(t, uint64(i), le.Uint64(a[xen.OffsetofXenAddToPhysmapIdx:]))
		assert.Equal(t, uint64(tab.pages[i].Frame), le.Uint64(a[xen.OffsetofXenAddToPhysmapGpfn:]))
	}

	// The old grant is gone with the old domain: revoking it succeeds and frees the ref.
	assert.Zero(t, flags(x.entry(held)), "the new domain's entry grants nothing")
	require.NoError(t, tab.Revoke(held))
	// Granting goes to Xen's new frames.
	ref, err := tab.Grant(0, arenaBase+1, true)
	require.NoError(t, err)
	assert.NotZero(t, flags(x.entry(ref))&GTF_permit_access)
	assert.Equal(t, uint32(arenaBase+1), le.Uint32(x.entry(ref)[4:]))
	assert.Equal(t, uint32(0xfeffc), le.Uint32(tab.frames[0][12:]), "the toolstack's XenStore grant is visible")
}

func TestResumeReportsMappingFailure(t *testing.T) {
	tab, x, _, err := newTestTable(4, Config{})
	require.NoError(t, err)
	x.failMap = xen.ENOMEM
	assert.ErrorIs(t, tab.Resume(), xen.ENOMEM)
}
