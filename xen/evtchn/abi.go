// Wire layouts of event_channel.h and of the event-channel parts of shared_info and vcpu_info
// (xen.h).

package evtchn

// Commands of HYPERVISOR_event_channel_op (enum event_channel_op).
const (
	EVTCHNOP_bind_interdomain = 0
	EVTCHNOP_bind_virq        = 1
	EVTCHNOP_close            = 3
	EVTCHNOP_send             = 4
	EVTCHNOP_alloc_unbound    = 6
	EVTCHNOP_unmask           = 9
)

// EVTCHN_2L_NR_CHANNELS is the number of ports of the 2-level ABI on a 64-bit guest:
// 64 selector bits times 64 bits per pending word.
const EVTCHN_2L_NR_CHANNELS = 64 * 64

// VIRQ is a virtual interrupt source that can be bound to a port (xen.h, VIRQ_*).
type VIRQ uint32

// Virtual interrupts a guest may bind. V = per vcpu, G = global (only one vcpu may bind it).
const (
	VIRQ_TIMER    VIRQ = 0  // V. Timebase update and/or requested timeout.
	VIRQ_DEBUG    VIRQ = 1  // V. Request to dump debug info.
	VIRQ_CONSOLE  VIRQ = 2  // G. (dom0) Bytes received on the emergency console.
	VIRQ_DOM_EXC  VIRQ = 3  // G. (dom0) Exceptional event for some domain.
	VIRQ_TBUF     VIRQ = 4  // G. (dom0) Trace buffer has records available.
	VIRQ_DEBUGGER VIRQ = 6  // G. (dom0) A domain has paused for debugging.
	VIRQ_XENOPROF VIRQ = 7  // V. XenOprofile interrupt.
	VIRQ_CON_RING VIRQ = 8  // G. (dom0) Bytes received on the console.
	VIRQ_ARGO     VIRQ = 11 // G. Argo interdomain message notification.
	VIRQ_XENPMU   VIRQ = 13 // V. PMC interrupt.
	NR_VIRQS      VIRQ = 24
)

// struct evtchn_alloc_unbound { domid_t dom, remote_dom; evtchn_port_t port /* OUT */; }
const (
	SizeofEvtchnAllocUnbound          = 8
	OffsetofEvtchnAllocUnboundDom     = 0
	OffsetofEvtchnAllocUnboundRemote  = 2
	OffsetofEvtchnAllocUnboundPortOut = 4
)

// struct evtchn_bind_interdomain { domid_t remote_dom; evtchn_port_t remote_port, local_port /* OUT */; }
// Note the two bytes of padding after remote_dom.
const (
	SizeofEvtchnBindInterdomain               = 12
	OffsetofEvtchnBindInterdomainRemoteDom    = 0
	OffsetofEvtchnBindInterdomainRemotePort   = 4
	OffsetofEvtchnBindInterdomainLocalPortOut = 8
)

// struct evtchn_bind_virq { uint32_t virq, vcpu; evtchn_port_t port /* OUT */; }
const (
	SizeofEvtchnBindVirq          = 12
	OffsetofEvtchnBindVirqVirq    = 0
	OffsetofEvtchnBindVirqVcpu    = 4
	OffsetofEvtchnBindVirqPortOut = 8
)

// struct evtchn_close, evtchn_send and evtchn_unmask are each a single evtchn_port_t port.
const (
	SizeofEvtchnClose  = 4
	SizeofEvtchnSend   = 4
	SizeofEvtchnUnmask = 4
)

// The event-channel fields of struct vcpu_info (xen.h; its size is xen.SizeofVcpuInfo, its
// time field package pvclock's). The upcall flags are bytes; the guest clears
// evtchn_upcall_pending with a 32-bit atomic on the aligned word holding both flags (see
// shared.go).
const (
	XEN_LEGACY_MAX_VCPUS                = 32
	OffsetofVcpuInfoEvtchnUpcallPending = 0
	OffsetofVcpuInfoEvtchnUpcallMask    = 1
	OffsetofVcpuInfoEvtchnPendingSel    = 8
	OffsetofVcpuInfoArch                = 16 // struct arch_vcpu_info { cr2, pad }
)

// struct shared_info (xen.h) on x86_64: vcpu_info[32], then the 2-level bitmaps of 64 words of
// 64 bits each, then the wallclock (package pvclock's) and the arch part.
const (
	OffsetofSharedInfoVcpuInfo      = 0
	OffsetofSharedInfoEvtchnPending = 2048
	OffsetofSharedInfoEvtchnMask    = 2560
	OffsetofSharedInfoArch          = 3088

	// SharedInfoMinSize is how much of the shared_info page this package touches: up to the
	// end of evtchn_mask.
	SharedInfoMinSize = OffsetofSharedInfoEvtchnMask + EVTCHN_2L_NR_CHANNELS/8
)

// bitmapWords is the number of 64-bit words in evtchn_pending and evtchn_mask.
const bitmapWords = EVTCHN_2L_NR_CHANNELS / 64
