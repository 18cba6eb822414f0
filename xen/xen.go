// Package xen holds what every Xen subsystem package shares: the identifier types, Xen's errno
// values as a typed error, the sentinel errors, the seam to the platform (Hypervisor, Memory,
// EventChannel), and the few hypervisor operations more than one side of that seam speaks
// (mapping Xen's pages with add_to_physmap, reading HVM parameters; ops.go).
//
// The subsystem packages below it (ring, gnttab, evtchn, xenstore, xenbus) are portable Go: they
// reach the hypervisor and guest memory only through the interfaces here. On a TamaGo PVH guest the
// hypercall package implements them with real hypercalls; in host tests a simulated Xen does.
// Both refer to the ABI constants here rather than keeping their own.
//
// Headers followed: xen/include/public/xen.h, errno.h, memory.h, hvm/hvm_op.h, hvm/params.h.
package xen

import (
	"context"
	"errors"
)

// PageSize is the size of a Xen page, the unit of granting and of every shared ring.
const PageSize = 4096

// SizeofVcpuInfo is sizeof(struct vcpu_info) on x86 (xen.h). The shared_info page begins with
// one per vCPU: package evtchn reads its event flags, package pvclock its time.
const SizeofVcpuInfo = 64

// DomID names a domain.
type DomID uint16

// DOMID_SELF refers to the calling domain in hypercall arguments.
const DOMID_SELF DomID = 0x7FF0

// Port is an event channel port.
type Port uint32

// GrantRef is a grant table entry index.
type GrantRef uint32

// Frame is a guest frame number: a guest-physical address shifted right by 12.
type Frame uint64

// Addr returns the guest-physical address of the start of the frame.
func (f Frame) Addr() uint64 { return uint64(f) << 12 }

// Sentinel errors shared by the subsystem packages and drivers.
var (
	// ErrNotSupported is returned by platform calls on a build that has no hypervisor.
	ErrNotSupported = errors.New("xen: not supported on this platform")
	// ErrBroken is returned once the other end broke the protocol; the object stays unusable.
	ErrBroken = errors.New("xen: peer broke the protocol")
	// ErrClosed is returned by operations on a closed object.
	ErrClosed = errors.New("xen: closed")
	// ErrRingFull is returned when a shared ring has no free request slot.
	ErrRingFull = errors.New("xen: ring full")
)

// Hypervisor is the seam to the hypercalls the portable packages issue.
//
// Each arg is the hypercall's C argument struct in its wire layout (little-endian, offsets as in
// the public headers, checked by the ABI conformance test). The platform passes the buffer's
// address to Xen, which may write results back into it; the simulated Xen decodes it instead.
// A negative hypercall result is returned as an Errno; other results are returned as is.
type Hypervisor interface {
	// EventChannelOp is HYPERVISOR_event_channel_op(cmd, arg).
	EventChannelOp(cmd uint32, arg []byte) error
	// GrantTableOp is HYPERVISOR_grant_table_op(cmd, arg, count); arg holds count structs.
	GrantTableOp(cmd uint32, arg []byte, count uint32) error
	// MemoryOp is HYPERVISOR_memory_op(cmd, arg).
	MemoryOp(cmd uint32, arg []byte) (int64, error)
	// HVMOp is HYPERVISOR_hvm_op(cmd, arg).
	HVMOp(cmd uint32, arg []byte) error
}

// Page is one page of guest RAM that may be shared with another domain.
// Data is exactly PageSize bytes long and page aligned; Frame is its guest frame number.
type Page struct {
	Frame Frame
	Data  []byte
}

// Memory hands out pages of guest RAM. Pages are zeroed before they are returned, so nothing the
// guest held before is ever exposed to another domain through them.
type Memory interface {
	AllocPage() (Page, error)
	FreePage(Page)
}

// EventChannel is one bound event channel port as the portable packages see it: they send
// notifications on it and wait for notifications from the other end. Implemented by package evtchn
// on a real or simulated Xen, and by simple fakes in tests.
type EventChannel interface {
	// Port is the local port number.
	Port() Port
	// Notify sends an event to the remote end (EVTCHNOP_send).
	Notify() error
	// Wait blocks until an event has arrived since the previous Wait returned, or ctx ends.
	// Events that arrive while nobody waits are coalesced into one, never lost.
	Wait(ctx context.Context) error
}
