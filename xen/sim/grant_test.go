// Grant flag semantics and grant copy, with the real gnttab.Table as the granting guest.

package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/gnttab"
)

func TestMapGrantFlags(t *testing.T) {
	x := newXen(t)
	dom0, guest := bootPair(t, x)
	pg := fillPage(t, guest.Domain, 0xab)

	ro, err := guest.Grants.Grant(0, pg.Frame, true)
	require.NoError(t, err)
	rw, err := guest.Grants.Grant(0, pg.Frame, false)
	require.NoError(t, err)

	_, err = dom0.Domain.MapGrant(7, ro, true)
	assert.ErrorIs(t, err, gnttab.GNTST_permission_denied, "writable mapping of a read-only grant")

	m, err := dom0.Domain.MapGrant(7, ro, false)
	require.NoError(t, err)
	assert.Equal(t, byte(0xab), m.Data[100], "the mapping aliases the granted page")
	assert.ErrorIs(t, guest.Grants.EndAccess(ro), gnttab.ErrInUse, "GTF_reading set while mapped")
	m2, err := dom0.Domain.MapGrant(7, ro, false)
	require.NoError(t, err)
	m.Unmap()
	assert.ErrorIs(t, guest.Grants.EndAccess(ro), gnttab.ErrInUse, "one mapping is left")
	m2.Unmap()
	m2.Unmap()
	require.NoError(t, guest.Grants.EndAccess(ro), "flags cleared on the last unmap")
	_, err = dom0.Domain.MapGrant(7, ro, false)
	assert.ErrorIs(t, err, gnttab.GNTST_permission_denied, "access ended")

	w, err := dom0.Domain.MapGrant(7, rw, true)
	require.NoError(t, err)
	w.Data[0] = 0x55
	assert.Equal(t, byte(0x55), pg.Data[0], "writes reach the granter's page")
	r, err := dom0.Domain.MapGrant(7, rw, false)
	require.NoError(t, err)
	w.Unmap()
	e := guest.Domain.grantEntry(rw)
	assert.Equal(t, uint32(gnttab.GTF_permit_access|gnttab.GTF_reading), e&0xffff,
		"GTF_writing cleared with the last writer, GTF_reading kept by the reader")
	assert.ErrorIs(t, guest.Grants.EndAccess(rw), gnttab.ErrInUse)
	r.Unmap()
	require.NoError(t, guest.Grants.EndAccess(rw))
}

func TestMapGrantRefusals(t *testing.T) {
	x := newXen(t)
	dom0, guest := bootPair(t, x)
	g8, err := x.NewDomain(8, DomainConfig{Pages: 16})
	require.NoError(t, err)
	pg := fillPage(t, guest.Domain, 1)
	ref, err := guest.Grants.Grant(0, pg.Frame, false)
	require.NoError(t, err)

	tests := []struct {
		name    string
		d       *Domain
		granter xen.DomID
		ref     xen.GrantRef
		want    gnttab.Status
	}{
		{"wrong grantee", g8, 7, ref, gnttab.GNTST_permission_denied},
		{"not granted", dom0.Domain, 7, ref + 1, gnttab.GNTST_permission_denied},
		{"beyond the table", dom0.Domain, 7, 1 << 20, gnttab.GNTST_bad_gntref},
		{"no such domain", dom0.Domain, 42, ref, gnttab.GNTST_bad_domain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.d.MapGrant(tt.granter, tt.ref, true)
			assert.ErrorIs(t, err, tt.want)
		})
	}
	// A frame beyond the granter's RAM: the entry is accepted, the page is not.
	bad, err := guest.Grants.Grant(0, 1<<20, false)
	require.NoError(t, err)
	_, err = dom0.Domain.MapGrant(7, bad, true)
	assert.ErrorIs(t, err, gnttab.GNTST_bad_page)
	require.NoError(t, guest.Grants.EndAccess(bad), "a failed map leaves no flag behind")
}

// The domain builder's grants of the magic pages survive the guest mapping its table.
func TestSeededGrants(t *testing.T) {
	x := newXen(t)
	dom0, guest := bootPair(t, x)
	pfn, ok := guest.Domain.Param(xen.HVM_PARAM_STORE_PFN)
	require.True(t, ok)
	m, err := dom0.Domain.MapGrant(7, gnttab.GNTTAB_RESERVED_XENSTORE, true)
	require.NoError(t, err)
	defer m.Unmap()
	m.Data[0] = 'x'
	assert.Equal(t, byte('x'), guest.Domain.Page(xen.Frame(pfn))[0])
	cpfn, _ := guest.Domain.Param(xen.HVM_PARAM_CONSOLE_PFN)
	c, err := dom0.Domain.MapGrant(7, gnttab.GNTTAB_RESERVED_CONSOLE, true)
	require.NoError(t, err)
	c.Data[1] = 'y'
	assert.Equal(t, byte('y'), guest.Domain.Page(xen.Frame(cpfn))[1])
	c.Unmap()
}

func TestGrantCopy(t *testing.T) {
	x := newXen(t)
	dom0, guest := bootPair(t, x)
	src := fillPage(t, guest.Domain, 0)
	for i := range src.Data {
		src.Data[i] = byte(i)
	}
	dst := fillPage(t, guest.Domain, 0)
	sref, err := guest.Grants.Grant(0, src.Frame, true)
	require.NoError(t, err)
	dref, err := guest.Grants.Grant(0, dst.Frame, false)
	require.NoError(t, err)
	local := fillPage(t, dom0.Domain, 0)

	gref := func(r xen.GrantRef, off uint16) CopyPtr { return CopyPtr{Ref: uint64(r), Domain: 7, Offset: off} }
	frame := func(f xen.Frame, off uint16) CopyPtr {
		return CopyPtr{Ref: uint64(f), Domain: xen.DOMID_SELF, Offset: off}
	}
	ops := []CopyOp{
		// TX direction: guest grant to a local frame.
		{Source: gref(sref, 10), Dest: frame(local.Frame, 100), Len: 50, Flags: GNTCOPY_source_gref},
		// RX direction: local frame to a guest grant.
		{Source: frame(local.Frame, 100), Dest: gref(dref, 4000), Len: 50, Flags: GNTCOPY_dest_gref},
		{Source: gref(sref, 4090), Dest: frame(local.Frame, 0), Len: 7, Flags: GNTCOPY_source_gref},
		{Source: frame(local.Frame, 0), Dest: gref(sref, 0), Len: 1, Flags: GNTCOPY_dest_gref},
		{Source: gref(sref+100, 0), Dest: frame(local.Frame, 0), Len: 1, Flags: GNTCOPY_source_gref},
		{Source: CopyPtr{Ref: uint64(sref), Domain: 9}, Dest: frame(local.Frame, 0), Len: 1, Flags: GNTCOPY_source_gref},
		{Source: CopyPtr{Ref: uint64(src.Frame), Domain: 7}, Dest: frame(local.Frame, 0), Len: 1},
		{Source: frame(1<<30, 0), Dest: frame(local.Frame, 0), Len: 1},
		{Source: gref(1<<20, 0), Dest: frame(local.Frame, 0), Len: 1, Flags: GNTCOPY_source_gref},
	}
	require.NoError(t, dom0.Domain.GrantCopy(ops))
	want := []gnttab.Status{
		gnttab.GNTST_okay, gnttab.GNTST_okay, gnttab.GNTST_bad_copy_arg,
		gnttab.GNTST_permission_denied, // writing through a read-only grant
		gnttab.GNTST_permission_denied, // not granted
		gnttab.GNTST_bad_domain,
		gnttab.GNTST_permission_denied, // another domain's frame without a grant
		gnttab.GNTST_bad_page,
		gnttab.GNTST_bad_gntref,
	}
	for i, op := range ops {
		assert.Equal(t, want[i], op.Status, "op %d", i)
	}
	assert.Equal(t, src.Data[10:60], local.Data[100:150])
	assert.Equal(t, src.Data[10:60], dst.Data[4000:4050])
	// A copy pins only while it runs.
	require.NoError(t, guest.Grants.EndAccess(sref))
	require.NoError(t, guest.Grants.EndAccess(dref))

	assert.ErrorIs(t, dom0.Domain.Hypervisor().GrantTableOp(GNTTABOP_copy, make([]byte, 39), 1), xen.EFAULT)
}

func TestGrantTableGrowsInGuestPages(t *testing.T) {
	x := New(Config{MaxGrantFrames: 2})
	t.Cleanup(x.Close)
	g, err := x.NewDomain(7, DomainConfig{Pages: 32})
	require.NoError(t, err)
	s, err := g.Boot(gnttab.Config{})
	require.NoError(t, err)
	defer s.Grants.Close()
	refs, err := s.Grants.AllocRefs(gnttab.EntriesPerFrame) // forces the second frame
	require.NoError(t, err)
	mapped, limit := s.Grants.Frames()
	assert.Equal(t, uint32(2), mapped)
	assert.Equal(t, uint32(2), limit)
	last := refs[len(refs)-1]
	require.NoError(t, s.Grants.GrantAccess(last, 0, 3, false))
	m, err := x.Dom0().MapGrant(7, last, true)
	require.NoError(t, err)
	assert.Equal(t, &g.Page(3)[0], &m.Data[0])
	m.Unmap()
	_, err = s.Grants.AllocRefs(gnttab.EntriesPerFrame)
	assert.ErrorIs(t, err, gnttab.ErrNoRefs, "max_nr_frames reached")
}
