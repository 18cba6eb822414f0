// Tables for packages written by other authors, wired to the constants they export.
// EXTEND HERE: when such a package exports a new wire constant, add one eq line to its table;
// when a pending_test.go value gets a Go constant, move its line here and replace the number.

package abi

import (
	"github.com/tamaxen/tamaxen/hypercall"
	"github.com/tamaxen/tamaxen/xen/console"
	"github.com/tamaxen/tamaxen/xen/pvclock"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

var hypercallChecks = []check{
	eq("XENVER_version", hypercall.XENVER_version),
	eq("XENVER_extraversion", hypercall.XENVER_extraversion),
	eq("sizeof(struct xen_hvm_evtchn_upcall_vector)", hypercall.SizeofXenUpcallVectorArg),
	eq("HVMOP_set_evtchn_upcall_vector", hypercall.HVMOP_set_evtchn_upcall_vector),
	eq("SCHEDOP_yield", hypercall.SCHEDOP_yield),
	eq("SCHEDOP_block", hypercall.SCHEDOP_block),
	eq("SCHEDOP_shutdown", hypercall.SCHEDOP_shutdown),
	eq("SHUTDOWN_poweroff", hypercall.SHUTDOWN_poweroff),
	eq("SHUTDOWN_reboot", hypercall.SHUTDOWN_reboot),
	eq("SHUTDOWN_suspend", hypercall.SHUTDOWN_suspend),
	eq("SHUTDOWN_crash", hypercall.SHUTDOWN_crash),
	eq("SHUTDOWN_watchdog", hypercall.SHUTDOWN_watchdog),
	eq("VCPUOP_set_singleshot_timer", hypercall.VCPUOP_set_singleshot_timer),
	eq("VCPUOP_stop_singleshot_timer", hypercall.VCPUOP_stop_singleshot_timer),
	eq("VCPU_SSHOTTMR_future", hypercall.VCPU_SSHOTTMR_future),
	eq("sizeof(struct vcpu_set_singleshot_timer)", hypercall.SizeofVcpuSetSingleshotTimer),
	eq("VCPUOP_get_runstate_info", hypercall.VCPUOP_get_runstate_info),
	eq("sizeof(struct vcpu_runstate_info)", hypercall.SizeofVcpuRunstateInfo),
	eq("offsetof(struct vcpu_runstate_info, state_entry_time)", 8),
	eq("offsetof(struct vcpu_runstate_info, time)", 16),
	eq("RUNSTATE_running", hypercall.RUNSTATE_running),
	eq("RUNSTATE_runnable", hypercall.RUNSTATE_runnable),
	eq("RUNSTATE_blocked", hypercall.RUNSTATE_blocked),
	eq("RUNSTATE_offline", hypercall.RUNSTATE_offline),
	eq("CONSOLEIO_write", hypercall.CONSOLEIO_write),
}

// pvclockChecks: vcpu_time_info and the shared_info wallclock, which the board reads.
var pvclockChecks = []check{
	eq("offsetof(struct vcpu_info, time)", pvclock.VcpuTimeOff),
	eq("sizeof(struct vcpu_time_info)", pvclock.SizeofTimeInfo),
	eq("offsetof(struct vcpu_time_info, version)", pvclock.TimeVersion),
	eq("offsetof(struct vcpu_time_info, tsc_timestamp)", pvclock.TimeTSCTimestamp),
	eq("offsetof(struct vcpu_time_info, system_time)", pvclock.TimeSystemTime),
	eq("offsetof(struct vcpu_time_info, tsc_to_system_mul)", pvclock.TimeTSCToSysMul),
	eq("offsetof(struct vcpu_time_info, tsc_shift)", pvclock.TimeTSCShift),
	eq("offsetof(struct vcpu_time_info, flags)", pvclock.TimeFlags),
	eq("offsetof(struct shared_info, wc_version)", pvclock.WcVersion),
	eq("offsetof(struct shared_info, wc_sec)", pvclock.WcSec),
	eq("offsetof(struct shared_info, wc_nsec)", pvclock.WcNsec),
	eq("offsetof(struct shared_info, wc_sec_hi)", pvclock.WcSecHi),
}

// consoleChecks: struct xencons_interface (io/console.h).
var consoleChecks = []check{
	eq("offsetof(struct xencons_interface, in)", console.InOff),
	eq("FSIZE(struct xencons_interface, in)", console.InSize),
	eq("offsetof(struct xencons_interface, out)", console.OutOff),
	eq("FSIZE(struct xencons_interface, out)", console.OutSize),
	eq("offsetof(struct xencons_interface, in_cons)", console.InConsOff),
	eq("offsetof(struct xencons_interface, in_prod)", console.InProdOff),
	eq("offsetof(struct xencons_interface, out_cons)", console.OutConsOff),
	eq("offsetof(struct xencons_interface, out_prod)", console.OutProdOff),
}

// xenstoreChecks: io/xs_wire.h.
var xenstoreChecks = []check{
	eq("XENSTORE_RING_SIZE", xenstore.XENSTORE_RING_SIZE),
	eq("offsetof(struct xenstore_domain_interface, req)", xenstore.InterfaceOffReq),
	eq("offsetof(struct xenstore_domain_interface, rsp)", xenstore.InterfaceOffRsp),
	eq("offsetof(struct xenstore_domain_interface, req_cons)", xenstore.InterfaceOffReqCons),
	eq("offsetof(struct xenstore_domain_interface, req_prod)", xenstore.InterfaceOffReqProd),
	eq("offsetof(struct xenstore_domain_interface, rsp_cons)", xenstore.InterfaceOffRspCons),
	eq("offsetof(struct xenstore_domain_interface, rsp_prod)", xenstore.InterfaceOffRspProd),
	eq("offsetof(struct xenstore_domain_interface, server_features)", xenstore.InterfaceOffServerFeatures),
	eq("offsetof(struct xenstore_domain_interface, connection)", xenstore.InterfaceOffConnection),
	eq("offsetof(struct xenstore_domain_interface, error)", xenstore.InterfaceOffError),
	eq("sizeof(struct xenstore_domain_interface)", xenstore.InterfaceSize),
	eq("XENSTORE_SERVER_FEATURE_RECONNECTION", xenstore.XENSTORE_SERVER_FEATURE_RECONNECTION),
	eq("XENSTORE_SERVER_FEATURE_ERROR", xenstore.XENSTORE_SERVER_FEATURE_ERROR),
	eq("XENSTORE_CONNECTED", xenstore.XENSTORE_CONNECTED),
	eq("XENSTORE_RECONNECT", xenstore.XENSTORE_RECONNECT),
	eq("XENSTORE_ERROR_NONE", xenstore.XENSTORE_ERROR_NONE),
	eq("XENSTORE_ERROR_COMM", xenstore.XENSTORE_ERROR_COMM),
	eq("XENSTORE_ERROR_RINGIDX", xenstore.XENSTORE_ERROR_RINGIDX),
	eq("XENSTORE_ERROR_PROTO", xenstore.XENSTORE_ERROR_PROTO),
	eq("XENSTORE_PAYLOAD_MAX", xenstore.XENSTORE_PAYLOAD_MAX),
	eq("XENSTORE_ABS_PATH_MAX", xenstore.XENSTORE_ABS_PATH_MAX),
	eq("XENSTORE_REL_PATH_MAX", xenstore.XENSTORE_REL_PATH_MAX),
	eq("XS_WATCH_PATH", xenstore.XS_WATCH_PATH),
	eq("XS_WATCH_TOKEN", xenstore.XS_WATCH_TOKEN),
	eq("sizeof(struct xsd_sockmsg)", xenstore.SockmsgSize),
	eq("offsetof(struct xsd_sockmsg, type)", xenstore.SockmsgOffType),
	eq("offsetof(struct xsd_sockmsg, req_id)", xenstore.SockmsgOffReqID),
	eq("offsetof(struct xsd_sockmsg, tx_id)", xenstore.SockmsgOffTxID),
	eq("offsetof(struct xsd_sockmsg, len)", xenstore.SockmsgOffLen),
	eq("XS_CONTROL", xenstore.XS_CONTROL),
	eq("XS_DEBUG", xenstore.XS_DEBUG),
	eq("XS_DIRECTORY", xenstore.XS_DIRECTORY),
	eq("XS_READ", xenstore.XS_READ),
	eq("XS_GET_PERMS", xenstore.XS_GET_PERMS),
	eq("XS_WATCH", xenstore.XS_WATCH),
	eq("XS_UNWATCH", xenstore.XS_UNWATCH),
	eq("XS_TRANSACTION_START", xenstore.XS_TRANSACTION_START),
	eq("XS_TRANSACTION_END", xenstore.XS_TRANSACTION_END),
	eq("XS_INTRODUCE", xenstore.XS_INTRODUCE),
	eq("XS_RELEASE", xenstore.XS_RELEASE),
	eq("XS_GET_DOMAIN_PATH", xenstore.XS_GET_DOMAIN_PATH),
	eq("XS_WRITE", xenstore.XS_WRITE),
	eq("XS_MKDIR", xenstore.XS_MKDIR),
	eq("XS_RM", xenstore.XS_RM),
	eq("XS_SET_PERMS", xenstore.XS_SET_PERMS),
	eq("XS_WATCH_EVENT", xenstore.XS_WATCH_EVENT),
	eq("XS_ERROR", xenstore.XS_ERROR),
	eq("XS_IS_DOMAIN_INTRODUCED", xenstore.XS_IS_DOMAIN_INTRODUCED),
	eq("XS_RESUME", xenstore.XS_RESUME),
	eq("XS_SET_TARGET", xenstore.XS_SET_TARGET),
	eq("XS_RESET_WATCHES", xenstore.XS_RESET_WATCHES),
	eq("XS_DIRECTORY_PART", xenstore.XS_DIRECTORY_PART),
	eq("XS_TYPE_COUNT", xenstore.XS_TYPE_COUNT),
	eq("XS_INVALID", xenstore.XS_INVALID),
}
