// Fuzzing the hypercall decoding with arbitrary argument bytes: a guest controls them all.

package sim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen/gnttab"
)

func FuzzHypercalls(f *testing.F) {
	f.Add(uint8(0), uint32(4), []byte{1, 0, 0, 0})
	f.Add(uint8(1), uint32(GNTTABOP_copy), make([]byte, SizeofGnttabCopy))
	f.Add(uint8(2), uint32(gnttab.XENMEM_add_to_physmap), make([]byte, gnttab.SizeofXenAddToPhysmap))
	f.Add(uint8(3), uint32(HVMOP_get_param), make([]byte, 16))
	f.Fuzz(func(t *testing.T, which uint8, cmd uint32, arg []byte) {
		x := New(Config{Dom0Pages: 8, MaxGrantFrames: 2})
		defer x.Close()
		g, err := x.NewDomain(7, DomainConfig{Pages: 8})
		require.NoError(t, err)
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
	})
}
