// Board bring-up: runtime hooks, hypercall page, shared_info, clock and exit.

//go:build tamago && amd64

package xenpvh

import (
	"fmt"
	"runtime/goos"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/usbarmory/tamago/amd64"
	"github.com/usbarmory/tamago/amd64/lapic"
	"github.com/usbarmory/tamago/dma"

	"github.com/tamaxen/tamaxen/hypercall"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/pvclock"
	"github.com/tamaxen/tamaxen/xen/pvh"
)

// AMD64 is the boot CPU. The board does not call its Init: TamaGo's timer calibration knows
// KVM but not Xen (it would warn that the TSC frequency is unknown), and the board keeps time
// with Xen's paravirtual clock instead.
var AMD64 = &amd64.CPU{
	TimerMultiplier: 1,
	LAPIC:           &lapic.LAPIC{Base: amd64.LAPIC_BASE},
}

var (
	// Boot information, valid after Hwinit1.
	startInfo pvh.StartInfo
	layout    pvh.Layout
	cmdline   pvh.Cmdline
	leaves    hypercall.Leaves
	bootErr   error

	// sharedInfoArea holds the page where Xen maps shared_info (XENMAPSPACE_shared_info
	// replaces the RAM page behind that frame).
	sharedInfoArea [2 * xen.PageSize]byte
	sharedInfo     []byte
	// sharedInfoFrame is sharedInfo's frame, mapped again on resume.
	sharedInfoFrame xen.Frame

	// wallOffset is the wall-clock time at Xen system time zero: nanotime adds it so that
	// time.Now() (which TamaGo derives from nanotime) reads the real date.
	wallOffset int64
	// bootTime is nanotime when the clock became Xen's.
	bootTime int64
	// earlyMul converts TSC ticks to nanoseconds before shared_info is mapped.
	earlyMul float64
)

// lastNanotime is the largest value nanotime returned: the Go runtime's timers need a clock
// that never goes back, whatever Xen's time info does between updates.
var lastNanotime atomic.Int64

//go:linkname nanotime runtime/goos.Nanotime
func nanotime() int64 {
	var t int64
	if sharedInfo != nil {
		t = wallOffset + int64(pvclock.SystemTime(sharedInfo, 0, rdtsc))
	} else {
		t = int64(float64(rdtsc()) * earlyMul)
	}
	if last := lastNanotime.Load(); t < last {
		return last
	}
	lastNanotime.Store(t)
	return t
}

// Init takes care of the lower level initialization triggered early in runtime setup (post
// World start): it finds Xen and maps shared_info so that time and events work before any
// package init runs.
//
//go:linkname Init runtime/goos.Hwinit1
func Init() {
	goos.Exit = exit

	var err error
	if leaves, err = hypercall.Init(); err != nil {
		fatal("xenpvh: " + err.Error())
	}
	if leaves.TSCKHz != 0 {
		earlyMul = 1e6 / float64(leaves.TSCKHz)
	}

	off := pageOffset(sharedInfoArea[:])
	p := sharedInfoArea[off : off+xen.PageSize]
	// The address of a package-level array, which never moves (unlike a goroutine stack).
	frame := xen.Frame(uintptr(unsafe.Pointer(&sharedInfoArea[off])) >> 12)
	if err := hypercall.AddToPhysmap(xen.XENMAPSPACE_shared_info, 0, frame); err != nil {
		fatal("xenpvh: mapping shared_info: " + err.Error())
	}
	sec, nsec := pvclock.Wallclock(p)
	wallOffset = int64(sec)*1e9 + int64(nsec)
	sharedInfo, sharedInfoFrame = p, frame
	bootTime = nanotime()
	entryTime = entryNanotime()

	goos.Idle = idle
}

func init() {
	startInfo, bootErr = pvh.ParseBootInfo(bootInfo[:], int(memmapCopied))
	if bootErr == nil {
		layout, bootErr = pvh.ComputeLayout(startInfo.Memmap, ramStart)
	}
	if bootErr == nil && layout.RAMSize != ramSize {
		bootErr = fmt.Errorf("xenpvh: entry code gave the runtime %#x bytes, layout says %#x", ramSize, layout.RAMSize)
	}
	if bootErr != nil {
		// Without the memory map the DMA region cannot be placed safely.
		panic(bootErr)
	}
	cmdline = pvh.ParseCmdline(startInfo.Cmdline)

	AMD64.EnableExceptions()
	if err := dma.Init(uint(layout.DMAStart), int(layout.DMASize)); err != nil {
		panic(err)
	}
	initConsole()
	if err := initEvents(); err != nil {
		panic("xenpvh: event channels: " + err.Error())
	}
}

// exit ends the domain: poweroff for a zero code, crash otherwise, so that `xl` and the
// on_crash policy can tell a clean exit from a failure.
func exit(code int32) {
	reason := hypercall.SHUTDOWN_poweroff
	if code != 0 {
		reason = hypercall.SHUTDOWN_crash
	}
	flushConsole()
	_ = hypercall.Shutdown(reason)
	// Shutdown does not return for poweroff or crash; if it did, stop here for good.
	haltForever()
}

// Shutdown ends the domain with the given reason (poweroff, reboot, crash).
func Shutdown(reason hypercall.ShutdownReason) error {
	flushConsole()
	return hypercall.Shutdown(reason)
}

// fatal reports a bring-up failure on every console there is and crashes the domain.
func fatal(msg string) {
	for i := 0; i < len(msg); i++ {
		outb(0xe9, msg[i])
	}
	outb(0xe9, '\n')
	_ = hypercall.Shutdown(hypercall.SHUTDOWN_crash)
	haltForever()
}

// pageOffset returns the offset of the first page boundary within b.
func pageOffset(b []byte) int {
	return (xen.PageSize - int(uintptr(unsafe.Pointer(&b[0]))%xen.PageSize)) % xen.PageSize
}

func outb(port uint16, val uint8)
func rdtsc() uint64
func haltForever()

// Info returns what the board learnt at boot.
func Info() (pvh.StartInfo, pvh.Layout, pvh.Cmdline) { return startInfo, layout, cmdline }

// XenVersion returns the Xen version from CPUID.
func XenVersion() (major, minor uint32) { return leaves.Major, leaves.Minor }

// SharedInfo returns the shared_info page.
func SharedInfo() []byte { return sharedInfo }

// Uptime returns the time since the board switched to Xen's clock, early in boot.
func Uptime() time.Duration { return time.Duration(nanotime() - bootTime) }
