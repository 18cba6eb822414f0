// The hypercall decoding that is not events or grants: HVM parameters, memory, unknown calls,
// and the layouts this package defines, checked against Xen's headers when a C compiler exists.

package sim

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

func getParam(hv xen.Hypervisor, dom xen.DomID, idx uint32) (uint64, error) {
	var a [xen.SizeofXenHVMParam]byte
	xen.EncodeHVMParam(a[:], dom, idx, 0)
	err := hv.HVMOp(xen.HVMOP_get_param, a[:])
	return le.Uint64(a[8:]), err
}

func TestHVMParams(t *testing.T) {
	x := newXen(t)
	g, err := x.NewDomain(7, DomainConfig{Pages: 20})
	require.NoError(t, err)
	hv := g.Hypervisor()
	pfn, err := getParam(hv, xen.DOMID_SELF, xen.HVM_PARAM_STORE_PFN)
	require.NoError(t, err)
	assert.Equal(t, uint64(19), pfn, "the store page is the top page")
	cpfn, err := getParam(hv, 7, xen.HVM_PARAM_CONSOLE_PFN)
	require.NoError(t, err)
	assert.Equal(t, uint64(18), cpfn)
	for _, p := range []uint32{xen.HVM_PARAM_STORE_EVTCHN, xen.HVM_PARAM_CONSOLE_EVTCHN} {
		port, err := getParam(hv, xen.DOMID_SELF, p)
		require.NoError(t, err)
		st, err := g.PortStatus(xen.Port(port))
		require.NoError(t, err)
		assert.Equal(t, PortStatus{Status: EVTCHNSTAT_unbound, Remote: 0}, st, "param %d", p)
	}
	v, err := getParam(hv, xen.DOMID_SELF, 5)
	require.NoError(t, err)
	assert.Zero(t, v, "an unset parameter reads as 0")
	_, err = getParam(hv, xen.DOMID_SELF, 1000)
	assert.ErrorIs(t, err, xen.EINVAL)
	_, err = getParam(hv, 0, xen.HVM_PARAM_STORE_PFN)
	assert.ErrorIs(t, err, xen.EPERM, "a guest reads only its own parameters")
	_, err = getParam(x.Dom0().Hypervisor(), 7, xen.HVM_PARAM_STORE_PFN)
	assert.NoError(t, err, "dom0 reads anyone's")
	assert.ErrorIs(t, hv.HVMOp(xen.HVMOP_get_param, make([]byte, 8)), xen.EINVAL)
}

func TestUnknownCallsAreENOSYS(t *testing.T) {
	x := newXen(t)
	hv := x.Dom0().Hypervisor()
	assert.ErrorIs(t, hv.HVMOp(xen.HVMOP_set_param, make([]byte, 16)), xen.ENOSYS)
	_, err := hv.MemoryOp(1, nil)
	assert.ErrorIs(t, err, xen.ENOSYS)
	assert.ErrorIs(t, hv.GrantTableOp(gnttab.GNTTABOP_setup_table, nil, 1), xen.ENOSYS)
	assert.ErrorIs(t, hv.EventChannelOp(2, nil), xen.ENOSYS)
}

func TestMemory(t *testing.T) {
	x := newXen(t)
	g, err := x.NewDomain(7, DomainConfig{Pages: 6})
	require.NoError(t, err)
	mem := g.Memory()
	var pages []xen.Page
	for {
		pg, err := mem.AllocPage()
		if err != nil {
			assert.ErrorIs(t, err, xen.ENOMEM)
			break
		}
		assert.Len(t, pg.Data, xen.PageSize)
		pages = append(pages, pg)
	}
	require.Len(t, pages, 4, "6 pages minus the two magic pages")
	for i, pg := range pages {
		assert.Equal(t, xen.Frame(i), pg.Frame)
		assert.Equal(t, &g.Page(pg.Frame)[0], &pg.Data[0])
		pg.Data[0] = 0xff
	}
	mem.FreePage(pages[2])
	mem.FreePage(pages[2])              // double free: ignored
	mem.FreePage(xen.Page{Frame: 5})    // a magic page: ignored
	mem.FreePage(xen.Page{Frame: 1000}) // not RAM: ignored
	assert.Equal(t, 1, g.mem.Free())
	pg, err := mem.AllocPage()
	require.NoError(t, err)
	assert.Equal(t, xen.Frame(2), pg.Frame)
	assert.Zero(t, pg.Data[0], "pages are zeroed")
	assert.Nil(t, g.Page(6))
}

// Mapping shared_info moves the bitmaps into the guest's page, keeping what was latched.
func TestSharedInfoMapping(t *testing.T) {
	x := newXen(t)
	g, err := x.NewDomain(7, DomainConfig{Pages: 16})
	require.NoError(t, err)
	port, _ := g.Param(xen.HVM_PARAM_STORE_EVTCHN)
	x.mu.Lock()
	g.setPendingLocked(xen.Port(port))
	x.mu.Unlock()
	pg, err := g.Memory().AllocPage()
	require.NoError(t, err)
	var a [xen.SizeofXenAddToPhysmap]byte
	xen.EncodeAddToPhysmap(a[:], xen.DOMID_SELF, xen.XENMAPSPACE_shared_info, 0, pg.Frame)
	_, err = g.Hypervisor().MemoryOp(xen.XENMEM_add_to_physmap, a[:])
	require.NoError(t, err)
	assert.Equal(t, &pg.Data[0], &g.SharedInfo()[0])
	assert.NotZero(t, shmem.Load64(pg.Data, 2048)&(1<<port), "pending bit moved with the page")
	xen.EncodeAddToPhysmap(a[:], 0, xen.XENMAPSPACE_shared_info, 0, pg.Frame)
	_, err = g.Hypervisor().MemoryOp(xen.XENMEM_add_to_physmap, a[:])
	assert.ErrorIs(t, err, xen.EPERM)
	xen.EncodeAddToPhysmap(a[:], xen.DOMID_SELF, 9, 0, pg.Frame)
	_, err = g.Hypervisor().MemoryOp(xen.XENMEM_add_to_physmap, a[:])
	assert.ErrorIs(t, err, xen.EINVAL)
}

// TestLayoutsAgainstHeaders compiles a C program printing the offsets of the structs this
// package defines (xen/abi checks the rest), skipping when there is no compiler or header.
func TestLayoutsAgainstHeaders(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	if _, err := os.Stat("/usr/include/xen/grant_table.h"); err != nil {
		t.Skip("no Xen headers")
	}
	checks := map[string]int{
		"sizeof(struct gnttab_copy)":                         SizeofGnttabCopy,
		"offsetof(struct gnttab_copy, source)":               OffsetofGnttabCopySource,
		"offsetof(struct gnttab_copy, dest)":                 OffsetofGnttabCopyDest,
		"offsetof(struct gnttab_copy, len)":                  OffsetofGnttabCopyLen,
		"offsetof(struct gnttab_copy, flags)":                OffsetofGnttabCopyFlags,
		"offsetof(struct gnttab_copy, status)":               OffsetofGnttabCopyStatus,
		"offsetof(struct gnttab_copy, source.domid)":         OffsetofGnttabCopyPtrDomid,
		"offsetof(struct gnttab_copy, source.offset)":        OffsetofGnttabCopyPtrOffset,
		"GNTTABOP_copy":                                      GNTTABOP_copy,
		"GNTCOPY_source_gref":                                GNTCOPY_source_gref,
		"GNTCOPY_dest_gref":                                  GNTCOPY_dest_gref,
		"EVTCHNOP_status":                                    EVTCHNOP_status,
		"sizeof(struct evtchn_status)":                       SizeofEvtchnStatus,
		"offsetof(struct evtchn_status, port)":               OffsetofEvtchnStatusPort,
		"offsetof(struct evtchn_status, status)":             OffsetofEvtchnStatusStatus,
		"offsetof(struct evtchn_status, vcpu)":               OffsetofEvtchnStatusVcpu,
		"offsetof(struct evtchn_status, u.interdomain.dom)":  OffsetofEvtchnStatusUDom,
		"offsetof(struct evtchn_status, u.interdomain.port)": OffsetofEvtchnStatusUPort,
		"offsetof(struct evtchn_status, u.virq)":             OffsetofEvtchnStatusUVirq,
		"EVTCHNSTAT_interdomain":                             EVTCHNSTAT_interdomain,
		"EVTCHNSTAT_virq":                                    EVTCHNSTAT_virq,
		"HVM_NR_PARAMS":                                      hvmNrParams,
	}
	var src strings.Builder
	src.WriteString("#define __XEN_INTERFACE_VERSION__ 0x00040e00\n#include <stddef.h>\n#include <stdio.h>\n" +
		"#include <stdint.h>\n#include <xen/xen.h>\n#include <xen/grant_table.h>\n#include <xen/event_channel.h>\n" +
		"#include <xen/hvm/params.h>\nint main(void) {\n")
	var exprs []string
	for e := range checks {
		exprs = append(exprs, e)
		fmt.Fprintf(&src, "printf(\"%%ld\\n\", (long)(%s));\n", e)
	}
	src.WriteString("return 0; }\n")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "l.c"), []byte(src.String()), 0o644))
	out, err := exec.Command(cc, "-o", filepath.Join(dir, "l"), filepath.Join(dir, "l.c")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(filepath.Join(dir, "l")).Output()
	require.NoError(t, err)
	lines := strings.Fields(string(out))
	require.Len(t, lines, len(exprs))
	for i, e := range exprs {
		assert.Equal(t, fmt.Sprint(checks[e]), lines[i], e)
	}
}
