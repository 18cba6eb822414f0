package xen

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncoders(t *testing.T) {
	var b [SizeofXenAddToPhysmap]byte
	EncodeAddToPhysmap(b[:], DOMID_SELF, XENMAPSPACE_grant_table, 3, 0x1234)
	assert.Equal(t, uint16(0x7ff0), binary.LittleEndian.Uint16(b[0:]))
	assert.Equal(t, uint32(XENMAPSPACE_grant_table), binary.LittleEndian.Uint32(b[4:]))
	assert.Equal(t, uint64(3), binary.LittleEndian.Uint64(b[8:]))
	assert.Equal(t, uint64(0x1234), binary.LittleEndian.Uint64(b[16:]))

	var p [SizeofXenHVMParam]byte
	EncodeHVMParam(p[:], DOMID_SELF, HVM_PARAM_STORE_PFN, 0xfeffc)
	assert.Equal(t, uint32(HVM_PARAM_STORE_PFN), binary.LittleEndian.Uint32(p[4:]))
	assert.Equal(t, uint64(0xfeffc), binary.LittleEndian.Uint64(p[8:]))
}

// opsHV answers memory_op with rc and hvm_op with value, recording the arguments.
type opsHV struct {
	Hypervisor
	rc    int64
	value uint64
	err   error
	cmd   uint32
	arg   []byte
}

func (h *opsHV) MemoryOp(cmd uint32, a []byte) (int64, error) {
	h.cmd, h.arg = cmd, append([]byte(nil), a...)
	return h.rc, h.err
}

func (h *opsHV) HVMOp(cmd uint32, a []byte) error {
	h.cmd, h.arg = cmd, append([]byte(nil), a...)
	binary.LittleEndian.PutUint64(a[OffsetofXenHVMParamValue:], h.value)
	return h.err
}

func TestAddToPhysmap(t *testing.T) {
	hv := &opsHV{}
	require.NoError(t, AddToPhysmap(hv, XENMAPSPACE_shared_info, 0, 0x42))
	assert.Equal(t, uint32(XENMEM_add_to_physmap), hv.cmd)
	want := make([]byte, SizeofXenAddToPhysmap)
	EncodeAddToPhysmap(want, DOMID_SELF, XENMAPSPACE_shared_info, 0, 0x42)
	assert.Equal(t, want, hv.arg)

	hv.rc = 1
	assert.ErrorContains(t, AddToPhysmap(hv, XENMAPSPACE_grant_table, 1, 0x43), "unexpected result 1")
	hv.rc, hv.err = 0, EINVAL
	assert.ErrorIs(t, AddToPhysmap(hv, XENMAPSPACE_grant_table, 1, 0x43), EINVAL)
}

func TestGetParam(t *testing.T) {
	hv := &opsHV{value: 0xfeffc}
	v, err := GetParam(hv, HVM_PARAM_STORE_PFN)
	require.NoError(t, err)
	assert.Equal(t, uint64(0xfeffc), v)
	assert.Equal(t, uint32(HVMOP_get_param), hv.cmd)
	want := make([]byte, SizeofXenHVMParam)
	EncodeHVMParam(want, DOMID_SELF, HVM_PARAM_STORE_PFN, 0)
	assert.Equal(t, want, hv.arg)

	hv.err = errors.New("no")
	_, err = GetParam(hv, HVM_PARAM_STORE_EVTCHN)
	assert.Error(t, err)
}
