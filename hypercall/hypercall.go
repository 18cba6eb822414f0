// Package hypercall issues Xen hypercalls from a TamaGo PVH guest.
//
// The guest finds Xen through its CPUID signature, installs the hypercall page through the MSR that
// Xen names, and then calls the 32-byte stubs Xen wrote into that page. This package holds the
// portable part (hypercall numbers, argument encoders, typed wrappers) and, in files built only
// with GOOS=tamago GOARCH=amd64, the assembly that makes the calls. On any other build every call
// returns xen.ErrNotSupported, so code using it still compiles and tests on the host.
//
// It is the platform side of package xen's Hypervisor seam, and imports only package xen: the
// memory and HVM operations the simulated Xen decodes as well (add_to_physmap, HVM parameters)
// are defined there, and this package refers to them; what only a real guest issues (version,
// sched, vcpu timer, console_io, the upcall vector) is defined here.
//
// Headers followed: xen/include/public/xen.h, version.h, sched.h, vcpu.h, hvm/hvm_op.h.
package hypercall

import (
	"encoding/binary"

	"github.com/tamaxen/tamaxen/xen"
)

// Hypercall numbers (xen.h, where they are spelt __HYPERVISOR_<name>).
const (
	HYPERVISOR_memory_op        = 12
	HYPERVISOR_xen_version      = 17
	HYPERVISOR_console_io       = 18
	HYPERVISOR_grant_table_op   = 20
	HYPERVISOR_vcpu_op          = 24
	HYPERVISOR_sched_op         = 29
	HYPERVISOR_event_channel_op = 32
	HYPERVISOR_hvm_op           = 34
)

// Sub-operations used by the typed wrappers.
const (
	XENVER_version      = 0
	XENVER_extraversion = 1

	HVMOP_set_evtchn_upcall_vector = 23
	SizeofXenUpcallVectorArg       = 8

	SCHEDOP_yield    = 0
	SCHEDOP_block    = 1
	SCHEDOP_shutdown = 2

	// VCPUOP_set_singleshot_timer is sub-op 8. Sub-op 4 is get_runstate_info, which "succeeds"
	// silently when used by mistake, so a wrong number here shows only as a timer that never fires.
	VCPUOP_set_singleshot_timer  = 8
	VCPUOP_stop_singleshot_timer = 9
	VCPU_SSHOTTMR_future         = 1
	SizeofVcpuSetSingleshotTimer = 16

	// VCPUOP_get_runstate_info fills a struct vcpu_runstate_info (vcpu.h): the state (int),
	// the system time it was entered (u64) and the nanoseconds spent in each RUNSTATE_*.
	VCPUOP_get_runstate_info = 4
	SizeofVcpuRunstateInfo   = 48
	RUNSTATE_running         = 0
	RUNSTATE_runnable        = 1
	RUNSTATE_blocked         = 2
	RUNSTATE_offline         = 3

	CONSOLEIO_write = 0
)

// ShutdownReason is the reason given to SCHEDOP_shutdown (sched.h).
type ShutdownReason uint32

// Shutdown reasons.
const (
	SHUTDOWN_poweroff ShutdownReason = 0
	SHUTDOWN_reboot   ShutdownReason = 1
	SHUTDOWN_suspend  ShutdownReason = 2
	SHUTDOWN_crash    ShutdownReason = 3
	SHUTDOWN_watchdog ShutdownReason = 4
)

func (r ShutdownReason) String() string {
	switch r {
	case SHUTDOWN_poweroff:
		return "poweroff"
	case SHUTDOWN_reboot:
		return "reboot"
	case SHUTDOWN_suspend:
		return "suspend"
	case SHUTDOWN_crash:
		return "crash"
	case SHUTDOWN_watchdog:
		return "watchdog"
	}
	return "unknown"
}

// Xen implements xen.Hypervisor with real hypercalls. Its zero value is ready once Init succeeded.
type Xen struct{}

var _ xen.Hypervisor = Xen{}

// EventChannelOp is HYPERVISOR_event_channel_op.
func (Xen) EventChannelOp(cmd uint32, arg []byte) error {
	rc, err := callBuf2(HYPERVISOR_event_channel_op, uintptr(cmd), arg, 0)
	return result(rc, err)
}

// GrantTableOp is HYPERVISOR_grant_table_op.
func (Xen) GrantTableOp(cmd uint32, arg []byte, count uint32) error {
	rc, err := callBuf2(HYPERVISOR_grant_table_op, uintptr(cmd), arg, uintptr(count))
	return result(rc, err)
}

// MemoryOp is HYPERVISOR_memory_op.
func (Xen) MemoryOp(cmd uint32, arg []byte) (int64, error) {
	rc, err := callBuf2(HYPERVISOR_memory_op, uintptr(cmd), arg, 0)
	if err := result(rc, err); err != nil {
		return 0, err
	}
	return rc, nil
}

// HVMOp is HYPERVISOR_hvm_op.
func (Xen) HVMOp(cmd uint32, arg []byte) error {
	rc, err := callBuf2(HYPERVISOR_hvm_op, uintptr(cmd), arg, 0)
	return result(rc, err)
}

// result folds the platform error and the hypercall's return value into one error. The argument
// buffers need no keep-alive: they are arguments of the call until it returns (see callBuf2).
func result(rc int64, err error) error {
	if err != nil {
		return err
	}
	return xen.FromResult(rc)
}

// Version returns Xen's major and minor version (XENVER_version).
func Version() (major, minor int, err error) {
	rc, err := call(HYPERVISOR_xen_version, XENVER_version, 0)
	if err != nil {
		return 0, 0, err
	}
	if err := xen.FromResult(rc); err != nil {
		return 0, 0, err
	}
	return int(uint32(rc) >> 16), int(uint32(rc) & 0xffff), nil
}

// ExtraVersion returns the version suffix (XENVER_extraversion), e.g. ".7" or "-unstable".
func ExtraVersion() (string, error) {
	var buf [16]byte
	rc, err := callBuf2(HYPERVISOR_xen_version, XENVER_extraversion, buf[:], 0)
	if err := result(rc, err); err != nil {
		return "", err
	}
	return cString(buf[:]), nil
}

// AddToPhysmap maps a Xen-owned page (space XENMAPSPACE_*) at guest frame gpfn of this domain.
func AddToPhysmap(space uint32, idx uint64, gpfn xen.Frame) error {
	return xen.AddToPhysmap(Xen{}, space, idx, gpfn)
}

// GetParam reads an HVM parameter of this domain (HVMOP_get_param).
func GetParam(index uint32) (uint64, error) { return xen.GetParam(Xen{}, index) }

// SetEvtchnUpcallVector makes Xen deliver event channel upcalls for vcpu as a LAPIC vector.
func SetEvtchnUpcallVector(vcpu uint32, vector uint8) error {
	var arg [SizeofXenUpcallVectorArg]byte
	binary.LittleEndian.PutUint32(arg[0:], vcpu)
	arg[4] = vector
	return Xen{}.HVMOp(HVMOP_set_evtchn_upcall_vector, arg[:])
}

// Shutdown ends this domain with the given reason. It returns only on failure, or after a
// SHUTDOWN_suspend once the domain has been resumed.
func Shutdown(reason ShutdownReason) error {
	var arg [4]byte
	binary.LittleEndian.PutUint32(arg[:], uint32(reason))
	rc, err := callBuf2(HYPERVISOR_sched_op, SCHEDOP_shutdown, arg[:], 0)
	return result(rc, err)
}

// Suspend asks Xen to suspend this domain for the toolstack to save it (SCHEDOP_shutdown with
// SHUTDOWN_suspend, which an HVM or PVH guest issues as any other hypercall). It returns when
// the domain runs again: cancelled is true when the suspension was cancelled and the domain
// carries on as it was (the save failed, or it was a checkpoint; the toolstack sets the result
// to 1), false when it resumed as a new domain (xl restore, migration), whose Xen knows none of
// its event channels, grants or shared_info mapping.
func Suspend() (cancelled bool, err error) {
	var arg [4]byte
	binary.LittleEndian.PutUint32(arg[:], uint32(SHUTDOWN_suspend))
	rc, err := callBuf2(HYPERVISOR_sched_op, SCHEDOP_shutdown, arg[:], 0)
	if err := result(rc, err); err != nil {
		return false, err
	}
	return rc != 0, nil
}

// Block deschedules this vCPU until an event is pending for it (SCHEDOP_block). Xen enables event
// delivery atomically with the block, so an event that raced with the call is not slept through.
func Block() error {
	rc, err := call(HYPERVISOR_sched_op, SCHEDOP_block, 0)
	return result(rc, err)
}

// Yield gives up the rest of this vCPU's time slice (SCHEDOP_yield).
func Yield() error {
	rc, err := call(HYPERVISOR_sched_op, SCHEDOP_yield, 0)
	return result(rc, err)
}

// SetSingleshotTimer arms vcpu's one-shot timer at deadline, in Xen system time nanoseconds;
// it fires VIRQ_TIMER. A deadline already past fires at once unless VCPU_SSHOTTMR_future is set.
func SetSingleshotTimer(vcpu uint32, deadline uint64, flags uint32) error {
	var arg [SizeofVcpuSetSingleshotTimer]byte
	binary.LittleEndian.PutUint64(arg[0:], deadline)
	binary.LittleEndian.PutUint32(arg[8:], flags)
	rc, err := callBuf3(HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, uintptr(vcpu), arg[:])
	return result(rc, err)
}

// Runstate is what Xen accounted of a vCPU's time (struct vcpu_runstate_info): Time[k] is the
// nanoseconds spent in RUNSTATE_k: running on a physical CPU, runnable but waiting for one
// (time stolen by other domains), blocked (halted with nothing to do), offline.
type Runstate struct {
	State     int32
	EntryTime uint64
	Time      [4]uint64
}

// GetRunstate returns vcpu's runstate (VCPUOP_get_runstate_info).
func GetRunstate(vcpu uint32) (Runstate, error) {
	var arg [SizeofVcpuRunstateInfo]byte
	rc, err := callBuf3(HYPERVISOR_vcpu_op, VCPUOP_get_runstate_info, uintptr(vcpu), arg[:])
	if err := result(rc, err); err != nil {
		return Runstate{}, err
	}
	return ParseRunstate(arg[:]), nil
}

// ParseRunstate decodes a struct vcpu_runstate_info; b holds SizeofVcpuRunstateInfo bytes.
func ParseRunstate(b []byte) Runstate {
	r := Runstate{State: int32(binary.LittleEndian.Uint32(b[0:])), EntryTime: binary.LittleEndian.Uint64(b[8:])}
	for k := range r.Time {
		r.Time[k] = binary.LittleEndian.Uint64(b[16+8*k:])
	}
	return r
}

// StopSingleshotTimer disarms vcpu's one-shot timer.
func StopSingleshotTimer(vcpu uint32) error {
	rc, err := call(HYPERVISOR_vcpu_op, VCPUOP_stop_singleshot_timer, uintptr(vcpu))
	return result(rc, err)
}

// ConsoleWrite writes b to Xen's own console (CONSOLEIO_write). A domU's writes reach it only
// when Xen runs with guest_loglvl=all; it is the last-resort channel for a panic message.
func ConsoleWrite(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	rc, err := callBuf3(HYPERVISOR_console_io, CONSOLEIO_write, uintptr(len(b)), b)
	return result(rc, err)
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
