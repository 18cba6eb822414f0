// Package pvclock reads Xen's paravirtual clock: the per-vCPU system time (struct
// vcpu_time_info, xen.h) and the wall clock in struct shared_info.
//
// Xen publishes, per vCPU, a TSC stamp, the system time at that stamp and a scale; the guest
// extrapolates from its own TSC. Both structures are guarded by version counters that are odd
// while Xen updates them, so readers retry until they see the same even version on both sides.
// Xen writes the fields while the guest reads them, so every read is an atomic load (package
// shmem), which also keeps the reads of the fields strictly between the two reads of the version.
package pvclock

import (
	"math/bits"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

// Offsets in struct vcpu_info, struct vcpu_time_info and struct shared_info (x86_64, xen.h).
// vcpu_info's size is xen.SizeofVcpuInfo; its event-channel fields are package evtchn's.
const (
	VcpuTimeOff = 32 // vcpu_info.time

	TimeVersion      = 0
	TimeTSCTimestamp = 8
	TimeSystemTime   = 16
	TimeTSCToSysMul  = 24
	TimeTSCShift     = 28
	TimeFlags        = 29
	SizeofTimeInfo   = 32

	WcVersion = 3072
	WcSec     = 3076
	WcNsec    = 3080
	WcSecHi   = 3084
)

// Scale converts a TSC delta to nanoseconds: shift it left (or right, for a negative shift),
// then multiply by mul as a 32.32 fixed-point fraction.
func Scale(delta uint64, mul uint32, shift int8) uint64 {
	if shift < 0 {
		delta >>= uint(-shift)
	} else {
		delta <<= uint(shift)
	}
	hi, lo := bits.Mul64(delta, uint64(mul))
	return hi<<32 | lo>>32
}

// SystemTime returns Xen system time, in nanoseconds since the host booted, for vCPU vcpu whose
// time info lives in the shared_info page, extrapolated with the TSC value rdtsc returns.
// It does not allocate.
func SystemTime(sharedInfo []byte, vcpu int, rdtsc func() uint64) uint64 {
	t := sharedInfo[vcpu*xen.SizeofVcpuInfo+VcpuTimeOff:][:SizeofTimeInfo]
	for {
		v := shmem.Load32(t, TimeVersion)
		if v&1 != 0 {
			continue // Xen is updating it
		}
		stamp := shmem.Load64(t, TimeTSCTimestamp)
		sys := shmem.Load64(t, TimeSystemTime)
		mul := shmem.Load32(t, TimeTSCToSysMul)
		shift := int8(shmem.Load32(t, TimeTSCShift&^3) >> (8 * (TimeTSCShift & 3))) // tsc_shift shares an aligned word with flags
		tsc := rdtsc()
		if shmem.Load32(t, TimeVersion) != v {
			continue
		}
		if tsc < stamp {
			// A TSC read that lands before the stamp Xen just wrote (an unordered read, or a
			// TSC that a migration left behind) would wrap to a delta of centuries.
			tsc = stamp
		}
		return sys + Scale(tsc-stamp, mul, shift)
	}
}

// Wallclock returns the wall-clock time (seconds and nanoseconds since the Unix epoch) at which
// Xen system time was zero; add SystemTime to get the current time.
func Wallclock(sharedInfo []byte) (sec uint64, nsec uint32) {
	for {
		v := shmem.Load32(sharedInfo, WcVersion)
		if v&1 != 0 {
			continue
		}
		lo := shmem.Load32(sharedInfo, WcSec)
		hi := shmem.Load32(sharedInfo, WcSecHi)
		ns := shmem.Load32(sharedInfo, WcNsec)
		if shmem.Load32(sharedInfo, WcVersion) == v {
			return uint64(hi)<<32 | uint64(lo), ns
		}
	}
}
