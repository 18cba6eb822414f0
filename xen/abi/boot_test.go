// The board's start info layout, the hypercall numbers and argument layouts, the shared ring
// header and the xenbus states, against the C headers.

package abi

import (
	"github.com/tamaxen/tamaxen/board/xenpvh"
	"github.com/tamaxen/tamaxen/hypercall"
	"github.com/tamaxen/tamaxen/xen/ring"
	"github.com/tamaxen/tamaxen/xen/xenbus"
)

// startInfoChecks: arch-x86/hvm/start_info.h, read by the board's PVH entry code.
var startInfoChecks = []check{
	eq("XEN_HVM_START_MAGIC_VALUE", xenpvh.XEN_HVM_START_MAGIC_VALUE),
	eq("sizeof(struct hvm_start_info)", xenpvh.SizeofStartInfo),
	eq("offsetof(struct hvm_start_info, version)", xenpvh.OffsetofStartInfoVersion),
	eq("offsetof(struct hvm_start_info, flags)", xenpvh.OffsetofStartInfoFlags),
	eq("offsetof(struct hvm_start_info, cmdline_paddr)", xenpvh.OffsetofStartInfoCmdlinePaddr),
	eq("offsetof(struct hvm_start_info, rsdp_paddr)", xenpvh.OffsetofStartInfoRsdpPaddr),
	eq("offsetof(struct hvm_start_info, memmap_paddr)", xenpvh.OffsetofStartInfoMemmapPaddr),
	eq("offsetof(struct hvm_start_info, memmap_entries)", xenpvh.OffsetofStartInfoMemmapEntries),
	eq("sizeof(struct hvm_memmap_table_entry)", xenpvh.SizeofMemmapEntry),
	eq("offsetof(struct hvm_memmap_table_entry, size)", 8),
	eq("offsetof(struct hvm_memmap_table_entry, type)", 16),
	eq("XEN_HVM_MEMMAP_TYPE_RAM", xenpvh.XEN_HVM_MEMMAP_TYPE_RAM),
	eq("XEN_HVM_MEMMAP_TYPE_RESERVED", xenpvh.XEN_HVM_MEMMAP_TYPE_RESERVED),
}

// hypercallNumberChecks: xen.h and the argument structs package hypercall encodes.
var hypercallNumberChecks = []check{
	eq("__HYPERVISOR_memory_op", hypercall.HYPERVISOR_memory_op),
	eq("__HYPERVISOR_xen_version", hypercall.HYPERVISOR_xen_version),
	eq("__HYPERVISOR_console_io", hypercall.HYPERVISOR_console_io),
	eq("__HYPERVISOR_grant_table_op", hypercall.HYPERVISOR_grant_table_op),
	eq("__HYPERVISOR_vcpu_op", hypercall.HYPERVISOR_vcpu_op),
	eq("__HYPERVISOR_sched_op", hypercall.HYPERVISOR_sched_op),
	eq("__HYPERVISOR_event_channel_op", hypercall.HYPERVISOR_event_channel_op),
	eq("__HYPERVISOR_hvm_op", hypercall.HYPERVISOR_hvm_op),
	eq("sizeof(struct xen_hvm_evtchn_upcall_vector)", hypercall.SizeofXenUpcallVectorArg),
	eq("offsetof(struct xen_hvm_evtchn_upcall_vector, vector)", 4),
	eq("sizeof(struct vcpu_set_singleshot_timer)", hypercall.SizeofVcpuSetSingleshotTimer),
	eq("offsetof(struct vcpu_set_singleshot_timer, flags)", 8),
	eq("sizeof(struct sched_shutdown)", 4),
}

// ringChecks: io/ring.h, as instantiated by io/netif.h.
var ringChecks = []check{
	eq("offsetof(struct netif_tx_sring, req_prod)", ring.OffReqProd),
	eq("offsetof(struct netif_tx_sring, req_event)", ring.OffReqEvent),
	eq("offsetof(struct netif_tx_sring, rsp_prod)", ring.OffRspProd),
	eq("offsetof(struct netif_tx_sring, rsp_event)", ring.OffRspEvent),
	eq("offsetof(struct netif_tx_sring, pvt)", ring.OffPvt),
	eq("offsetof(struct netif_tx_sring, ring)", ring.HeaderSize),
	eq("__CONST_RING_SIZE(netif_tx, 4096)", ring.Size(4096, 12)),
	eq("__CONST_RING_SIZE(netif_rx, 4096)", ring.Size(4096, 8)),
}

// xenbusChecks: enum xenbus_state (io/xenbus.h).
var xenbusChecks = []check{
	eq("XenbusStateUnknown", xenbus.XenbusStateUnknown),
	eq("XenbusStateInitialising", xenbus.XenbusStateInitialising),
	eq("XenbusStateInitWait", xenbus.XenbusStateInitWait),
	eq("XenbusStateInitialised", xenbus.XenbusStateInitialised),
	eq("XenbusStateConnected", xenbus.XenbusStateConnected),
	eq("XenbusStateClosing", xenbus.XenbusStateClosing),
	eq("XenbusStateClosed", xenbus.XenbusStateClosed),
	eq("XenbusStateReconfiguring", xenbus.XenbusStateReconfiguring),
	eq("XenbusStateReconfigured", xenbus.XenbusStateReconfigured),
}
