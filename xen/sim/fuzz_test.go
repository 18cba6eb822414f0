// Fuzzing the hypercall decoding with arbitrary argument bytes: a guest controls them all.
// With bit 2 of which set, the guest is restored in a new domain (Xen.Restore) after the call
// and makes it again: whatever state the call left, the new domain starts clean.

package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/gnttab"
)

func FuzzHypercalls(f *testing.F) {
	f.Add(uint8(0), uint32(4), []byte{1, 0, 0, 0})
	f.Add(uint8(1), uint32(GNTTABOP_copy), make([]byte, SizeofGnttabCopy))
	f.Add(uint8(2), uint32(xen.XENMEM_add_to_physmap), make([]byte, xen.SizeofXenAddToPhysmap))
	f.Add(uint8(3), uint32(xen.HVMOP_get_param), make([]byte, 16))
	f.Add(uint8(6), uint32(xen.XENMEM_add_to_physmap), make([]byte, xen.SizeofXenAddToPhysmap))
	f.Add(uint8(4), uint32(4), []byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, which uint8, cmd uint32, arg []byte) {
		x := New(Config{Dom0Pages: 8, MaxGrantFrames: 2})
		defer x.Close()
		g, err := x.NewDomain(7, DomainConfig{Pages: 8})
		require.NoError(t, err)
		call := func() {
			for _, d := range []*Domain{g, x.Dom0()} {
				hv := d.Hypervisor()
				a := append([]byte(nil), arg...)
				switch which % 4 {
				case 0:
					_ = hv.EventChannelOp(cmd, a)
				case 1:
					_ = hv.GrantTableOp(cmd, a, uint32(len(a)/SizeofGnttabCopy))
				case 2:
					_, _ = hv.MemoryOp(cmd, a)
				case 3:
					_ = hv.HVMOp(cmd, a)
				}
			}
		}
		call()
		if which&4 == 0 {
			return
		}
		require.NoError(t, x.Restore(7))
		for p := range 64 {
			st, err := g.PortStatus(xen.Port(p))
			require.NoError(t, err)
			want := uint32(EVTCHNSTAT_closed)
			if p == 1 || p == 2 {
				want = EVTCHNSTAT_unbound
			}
			require.Equal(t, want, st.Status, "port %d after restore", p)
		}
		var q [gnttab.SizeofGnttabQuerySize]byte
		le.PutUint16(q[gnttab.OffsetofGnttabQuerySizeDom:], uint16(xen.DOMID_SELF))
		require.NoError(t, g.Hypervisor().GrantTableOp(gnttab.GNTTABOP_query_size, q[:], 1))
		require.EqualValues(t, 1, le.Uint32(q[gnttab.OffsetofGnttabQuerySizeNrFrames:]), "grant frames after restore")
		call()
	})
}
