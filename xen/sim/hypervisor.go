// Hypervisor: a domain's hypercalls, decoded from their wire-layout argument structs.

package sim

import (
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/gnttab"
)

// hvmNrParams is HVM_NR_PARAMS (hvm/params.h): the HVM parameters a domain has. The
// operations and the parameters a PVH guest reads are package xen's.
const hvmNrParams = 39

// Hypervisor implements xen.Hypervisor for one domain: every call acts as that domain.
// Argument structs of the wrong size fail with xen.EINVAL (on Xen a short buffer would fault
// or be read past); unknown commands with xen.ENOSYS.
type Hypervisor struct{ d *Domain }

var _ xen.Hypervisor = (*Hypervisor)(nil)

// EventChannelOp is HYPERVISOR_event_channel_op.
func (h *Hypervisor) EventChannelOp(cmd uint32, a []byte) error {
	d := h.d
	n := evtchnArgSize(cmd)
	if n == 0 {
		return xen.ENOSYS
	}
	if len(a) != n {
		return xen.EINVAL
	}
	d.x.mu.Lock()
	defer d.x.mu.Unlock()
	port := xen.Port(le.Uint32(a))
	switch cmd {
	case evtchn.EVTCHNOP_alloc_unbound:
		// The toolstack allocates in the guest, for the store and console ports.
		owner, err := d.ownerLocked(xen.DomID(le.Uint16(a[evtchn.OffsetofEvtchnAllocUnboundDom:])))
		if err != nil {
			return err
		}
		remote := xen.DomID(le.Uint16(a[evtchn.OffsetofEvtchnAllocUnboundRemote:]))
		if remote == xen.DOMID_SELF {
			remote = owner.id
		}
		p, err := owner.allocUnboundLocked(remote)
		if err != nil {
			return err
		}
		le.PutUint32(a[evtchn.OffsetofEvtchnAllocUnboundPortOut:], uint32(p))
	case evtchn.EVTCHNOP_bind_interdomain:
		p, err := d.bindInterdomainLocked(xen.DomID(le.Uint16(a[evtchn.OffsetofEvtchnBindInterdomainRemoteDom:])),
			xen.Port(le.Uint32(a[evtchn.OffsetofEvtchnBindInterdomainRemotePort:])))
		if err != nil {
			return err
		}
		le.PutUint32(a[evtchn.OffsetofEvtchnBindInterdomainLocalPortOut:], uint32(p))
	case evtchn.EVTCHNOP_bind_virq:
		p, err := d.bindVIRQLocked(evtchn.VIRQ(le.Uint32(a[evtchn.OffsetofEvtchnBindVirqVirq:])),
			le.Uint32(a[evtchn.OffsetofEvtchnBindVirqVcpu:]))
		if err != nil {
			return err
		}
		le.PutUint32(a[evtchn.OffsetofEvtchnBindVirqPortOut:], uint32(p))
	case evtchn.EVTCHNOP_close:
		return d.closeLocked(port)
	case evtchn.EVTCHNOP_send:
		return d.sendLocked(port)
	case evtchn.EVTCHNOP_unmask:
		return d.unmaskLocked(port)
	case EVTCHNOP_status:
		return d.statusOpLocked(a)
	}
	return nil
}

// ownerLocked resolves the domain an operation names: itself, or for a privileged domain
// (dom0) any other, as Xen allows only the toolstack to act on another domain's ports.
func (d *Domain) ownerLocked(id xen.DomID) (*Domain, error) {
	owner := d.x.domainLocked(d, id)
	if owner == nil {
		return nil, xen.ESRCH
	}
	if owner != d && d.id != 0 {
		return nil, xen.EPERM
	}
	return owner, nil
}

// statusOpLocked is EVTCHNOP_status: a's struct evtchn_status filled in for the port it names.
func (d *Domain) statusOpLocked(a []byte) error {
	owner, err := d.ownerLocked(xen.DomID(le.Uint16(a[OffsetofEvtchnStatusDom:])))
	if err != nil {
		return err
	}
	st, err := owner.statusLocked(xen.Port(le.Uint32(a[OffsetofEvtchnStatusPort:])))
	if err != nil {
		return err
	}
	clear(a[OffsetofEvtchnStatusStatus:])
	le.PutUint32(a[OffsetofEvtchnStatusStatus:], st.Status)
	switch st.Status {
	case EVTCHNSTAT_unbound:
		le.PutUint16(a[OffsetofEvtchnStatusUDom:], uint16(st.Remote))
	case EVTCHNSTAT_interdomain:
		le.PutUint16(a[OffsetofEvtchnStatusUDom:], uint16(st.Remote))
		le.PutUint32(a[OffsetofEvtchnStatusUPort:], uint32(st.RemotePort))
	case EVTCHNSTAT_virq:
		le.PutUint32(a[OffsetofEvtchnStatusUVirq:], uint32(st.VIRQ))
	}
	return nil
}

// evtchnArgSize is the size of cmd's argument struct, or 0 for a command not simulated.
func evtchnArgSize(cmd uint32) int {
	switch cmd {
	case evtchn.EVTCHNOP_alloc_unbound:
		return evtchn.SizeofEvtchnAllocUnbound
	case evtchn.EVTCHNOP_bind_interdomain:
		return evtchn.SizeofEvtchnBindInterdomain
	case evtchn.EVTCHNOP_bind_virq:
		return evtchn.SizeofEvtchnBindVirq
	case evtchn.EVTCHNOP_close, evtchn.EVTCHNOP_send, evtchn.EVTCHNOP_unmask:
		return 4
	case EVTCHNOP_status:
		return SizeofEvtchnStatus
	}
	return 0
}

// GrantTableOp is HYPERVISOR_grant_table_op: GNTTABOP_query_size and GNTTABOP_copy.
func (h *Hypervisor) GrantTableOp(cmd uint32, a []byte, count uint32) error {
	switch cmd {
	case gnttab.GNTTABOP_query_size:
		if count != 1 || len(a) != gnttab.SizeofGnttabQuerySize {
			return xen.EINVAL
		}
		h.querySize(a)
		return nil
	case GNTTABOP_copy:
		return h.d.grantCopy(a, count)
	}
	return xen.ENOSYS
}

// querySize is gnttab_query_size: a guest may only ask about itself; the answer's failure is
// in the status field, not the hypercall result.
func (h *Hypervisor) querySize(a []byte) {
	d := h.d
	d.x.mu.Lock()
	defer d.x.mu.Unlock()
	st := gnttab.GNTST_okay
	target := d.x.domainLocked(d, xen.DomID(le.Uint16(a[gnttab.OffsetofGnttabQuerySizeDom:])))
	switch {
	case target == nil:
		st = gnttab.GNTST_bad_domain
	case target != d && d.id != 0:
		st = gnttab.GNTST_permission_denied
	default:
		le.PutUint32(a[gnttab.OffsetofGnttabQuerySizeNrFrames:], uint32(len(target.gt.frames)))
		le.PutUint32(a[gnttab.OffsetofGnttabQuerySizeMaxNrFrames:], target.gt.maxFrames)
	}
	le.PutUint16(a[gnttab.OffsetofGnttabQuerySizeStatus:], uint16(st))
}

// MemoryOp is HYPERVISOR_memory_op: XENMEM_add_to_physmap for the grant table and shared_info.
func (h *Hypervisor) MemoryOp(cmd uint32, a []byte) (int64, error) {
	if cmd != xen.XENMEM_add_to_physmap {
		return 0, xen.ENOSYS
	}
	if len(a) != xen.SizeofXenAddToPhysmap {
		return 0, xen.EINVAL
	}
	d := h.d
	d.x.mu.Lock()
	defer d.x.mu.Unlock()
	if dom := xen.DomID(le.Uint16(a[xen.OffsetofXenAddToPhysmapDomid:])); dom != xen.DOMID_SELF && dom != d.id {
		return 0, xen.EPERM
	}
	idx := le.Uint64(a[xen.OffsetofXenAddToPhysmapIdx:])
	gpfn := xen.Frame(le.Uint64(a[xen.OffsetofXenAddToPhysmapGpfn:]))
	switch le.Uint32(a[xen.OffsetofXenAddToPhysmapSpace:]) {
	case xen.XENMAPSPACE_grant_table:
		return 0, d.gt.mapFrameLocked(idx, gpfn)
	case xen.XENMAPSPACE_shared_info:
		page := d.Page(gpfn)
		if idx != 0 || page == nil {
			return 0, xen.EINVAL
		}
		// From now on Xen writes the bitmaps in the guest's page. What was latched so far
		// moves with it, as the guest sees the same shared_info at its new address.
		copyWords(page, d.sharedInfo)
		d.sharedInfo = page
		return 0, nil
	}
	return 0, xen.EINVAL
}

// HVMOp is HYPERVISOR_hvm_op: HVMOP_get_param of the parameters the domain builder set.
func (h *Hypervisor) HVMOp(cmd uint32, a []byte) error {
	if cmd != xen.HVMOP_get_param {
		return xen.ENOSYS
	}
	if len(a) != xen.SizeofXenHVMParam {
		return xen.EINVAL
	}
	d := h.d
	d.x.mu.Lock()
	defer d.x.mu.Unlock()
	target := d.x.domainLocked(d, xen.DomID(le.Uint16(a[xen.OffsetofXenHVMParamDomid:])))
	if target == nil {
		return xen.ESRCH
	}
	if target != d && d.id != 0 {
		return xen.EPERM
	}
	index := le.Uint32(a[xen.OffsetofXenHVMParamIndex:])
	if index >= hvmNrParams {
		return xen.EINVAL
	}
	// A parameter nobody set reads as 0, as on Xen.
	le.PutUint64(a[xen.OffsetofXenHVMParamValue:], target.params[index])
	return nil
}
