package hypercall

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
)

// fakeCPUID answers like Xen with its leaves at base, or like bare metal when base is 0.
func fakeCPUID(base, maxLeaf uint32) CPUIDFunc {
	return func(leaf, sub uint32) (uint32, uint32, uint32, uint32) {
		switch {
		case base != 0 && leaf == base:
			return maxLeaf, 0x566e6558, 0x65584d4d, 0x4d4d566e // "XenV" "MMXe" "nVMM"
		case base != 0 && leaf == base+1:
			return 4<<16 | 17, 0, 0, 0
		case base != 0 && leaf == base+2:
			return 1, 0x40000000, 0, 0
		case base != 0 && leaf == base+3 && sub == 0:
			return 0, 0, 2_500_000, 0
		}
		return 0, 0, 0, 0
	}
}

func TestFindXen(t *testing.T) {
	tests := []struct {
		name    string
		base    uint32
		maxLeaf uint32
		ok      bool
		want    Leaves
	}{
		{"bare metal", 0, 0, false, Leaves{}},
		{"at base", 0x40000000, 0x40000005, true,
			Leaves{Base: 0x40000000, Major: 4, Minor: 17, HypercallPages: 1, HypercallMSR: 0x40000000, TSCKHz: 2_500_000}},
		{"after viridian", 0x40000100, 0x40000105, true,
			Leaves{Base: 0x40000100, Major: 4, Minor: 17, HypercallPages: 1, HypercallMSR: 0x40000000, TSCKHz: 2_500_000}},
		{"no tsc leaf", 0x40000000, 0x40000002, true,
			Leaves{Base: 0x40000000, Major: 4, Minor: 17, HypercallPages: 1, HypercallMSR: 0x40000000}},
		{"too few leaves", 0x40000000, 0x40000001, false, Leaves{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := FindXen(fakeCPUID(tt.base, tt.maxLeaf))
			require.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestHostBuildHasNoHypervisor(t *testing.T) {
	_, err := Init()
	assert.ErrorIs(t, err, xen.ErrNotSupported)
	_, _, err = Version()
	assert.ErrorIs(t, err, xen.ErrNotSupported)
	_, err = GetParam(xen.HVM_PARAM_STORE_PFN)
	assert.ErrorIs(t, err, xen.ErrNotSupported)
	assert.ErrorIs(t, Shutdown(SHUTDOWN_poweroff), xen.ErrNotSupported)
	assert.ErrorIs(t, Xen{}.EventChannelOp(4, make([]byte, 8)), xen.ErrNotSupported)
}

func TestShutdownReasonString(t *testing.T) {
	assert.Equal(t, "poweroff", SHUTDOWN_poweroff.String())
	assert.Equal(t, "crash", SHUTDOWN_crash.String())
	assert.Equal(t, "unknown", ShutdownReason(99).String())
}

// ParseRunstate reads struct vcpu_runstate_info's fields at the offsets the C headers give
// (xen/abi checks them).
func TestParseRunstate(t *testing.T) {
	b := make([]byte, SizeofVcpuRunstateInfo)
	b[0] = RUNSTATE_blocked
	b[8] = 7
	for k := range 4 {
		b[16+8*k] = byte(10 + k)
		b[16+8*k+5] = 1 // well past 32 bits
	}
	r := ParseRunstate(b)
	assert.EqualValues(t, RUNSTATE_blocked, r.State)
	assert.EqualValues(t, 7, r.EntryTime)
	for k := range 4 {
		assert.EqualValues(t, uint64(10+k)|1<<40, r.Time[k], k)
	}
}
