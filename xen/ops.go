// The memory and HVM operations that both sides of the Hypervisor seam speak: memory.h's
// add_to_physmap and hvm_op.h's parameters, with their argument structs.

package xen

import (
	"encoding/binary"
	"fmt"
)

// XENMEM_add_to_physmap (memory.h) maps a Xen-owned page, shared_info or a grant-table frame,
// at a guest frame of the guest's choice: a PVH guest has no other way to reach them.
const (
	XENMEM_add_to_physmap   = 7
	XENMAPSPACE_shared_info = 0
	XENMAPSPACE_grant_table = 1
)

// struct xen_add_to_physmap { domid_t domid; uint16_t size; unsigned int space;
// xen_ulong_t idx; xen_pfn_t gpfn; }
const (
	SizeofXenAddToPhysmap        = 24
	OffsetofXenAddToPhysmapDomid = 0
	OffsetofXenAddToPhysmapSize  = 2
	OffsetofXenAddToPhysmapSpace = 4
	OffsetofXenAddToPhysmapIdx   = 8
	OffsetofXenAddToPhysmapGpfn  = 16
)

// HVM operations and the parameters a PVH guest reads to find its XenStore and console
// (hvm/hvm_op.h, hvm/params.h).
const (
	HVMOP_set_param = 0
	HVMOP_get_param = 1

	HVM_PARAM_STORE_PFN      = 1
	HVM_PARAM_STORE_EVTCHN   = 2
	HVM_PARAM_CONSOLE_PFN    = 17
	HVM_PARAM_CONSOLE_EVTCHN = 18
)

// struct xen_hvm_param { domid_t domid; uint8_t pad[2]; uint32_t index; uint64_t value; }
const (
	SizeofXenHVMParam        = 16
	OffsetofXenHVMParamDomid = 0
	OffsetofXenHVMParamIndex = 4
	OffsetofXenHVMParamValue = 8
)

// EncodeAddToPhysmap writes struct xen_add_to_physmap (domid, size, space, idx, gpfn).
func EncodeAddToPhysmap(b []byte, dom DomID, space uint32, idx uint64, gpfn Frame) {
	le := binary.LittleEndian
	le.PutUint16(b[OffsetofXenAddToPhysmapDomid:], uint16(dom))
	le.PutUint16(b[OffsetofXenAddToPhysmapSize:], 0)
	le.PutUint32(b[OffsetofXenAddToPhysmapSpace:], space)
	le.PutUint64(b[OffsetofXenAddToPhysmapIdx:], idx)
	le.PutUint64(b[OffsetofXenAddToPhysmapGpfn:], uint64(gpfn))
}

// AddToPhysmap maps page idx of a Xen-owned space (XENMAPSPACE_*) at frame gpfn of the
// calling domain. Xen answers 0 on success; any other result is an error too.
func AddToPhysmap(hv Hypervisor, space uint32, idx uint64, gpfn Frame) error {
	var a [SizeofXenAddToPhysmap]byte
	EncodeAddToPhysmap(a[:], DOMID_SELF, space, idx, gpfn)
	rc, err := hv.MemoryOp(XENMEM_add_to_physmap, a[:])
	if err == nil && rc != 0 {
		err = fmt.Errorf("unexpected result %d", rc)
	}
	return err
}

// EncodeHVMParam writes struct xen_hvm_param (domid, pad, index, value).
func EncodeHVMParam(b []byte, dom DomID, index uint32, value uint64) {
	le := binary.LittleEndian
	le.PutUint16(b[OffsetofXenHVMParamDomid:], uint16(dom))
	le.PutUint16(b[OffsetofXenHVMParamDomid+2:], 0)
	le.PutUint32(b[OffsetofXenHVMParamIndex:], index)
	le.PutUint64(b[OffsetofXenHVMParamValue:], value)
}

// GetParam reads HVM parameter index (HVM_PARAM_*) of the calling domain (HVMOP_get_param).
func GetParam(hv Hypervisor, index uint32) (uint64, error) {
	var a [SizeofXenHVMParam]byte
	EncodeHVMParam(a[:], DOMID_SELF, index, 0)
	if err := hv.HVMOp(HVMOP_get_param, a[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(a[OffsetofXenHVMParamValue:]), nil
}
