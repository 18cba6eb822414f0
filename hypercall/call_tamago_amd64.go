// Hypercall page installation and the trampoline into it, on a TamaGo amd64 guest.

//go:build tamago && amd64

package hypercall

import (
	"errors"
	"runtime"
	"unsafe"

	"github.com/tamaxen/tamaxen/xen"
)

// hypercallArea holds the hypercall page. It is twice a page long so a page-aligned page always
// fits inside it; Xen writes 32-byte stubs there, one per hypercall number. TamaGo identity-maps
// memory, so its virtual address is also the guest-physical address Xen wants in the MSR.
var hypercallArea [2 * xen.PageSize]byte

// page is the address of the installed hypercall page, 0 until Init succeeds.
var page uintptr

func cpuid(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)
func wrmsr(msr uint32, val uint64)
func trampoline(addr, a1, a2, a3, a4, a5 uintptr) int64

// Init finds Xen and installs the hypercall page. It must run once, before any other call.
func Init() (Leaves, error) {
	l, ok := FindXen(cpuid)
	if !ok {
		return Leaves{}, errors.New("hypercall: Xen CPUID signature not found")
	}
	if l.HypercallPages < 1 {
		return l, errors.New("hypercall: Xen offers no hypercall page")
	}
	p := (uintptr(unsafe.Pointer(&hypercallArea[0])) + xen.PageSize - 1) &^ (xen.PageSize - 1)
	// Writing the page's guest-physical address to the MSR makes Xen fill it with stubs that
	// use the right instruction for this CPU (vmcall on Intel, vmmcall on AMD).
	wrmsr(l.HypercallMSR, uint64(p))
	page = p
	return l, nil
}

func call(op, a1, a2, a3, a4, a5 uintptr) (int64, error) {
	if page == 0 {
		return 0, xen.ErrNotSupported
	}
	return trampoline(page+op*32, a1, a2, a3, a4, a5), nil
}

func bufAddr(b []byte) uintptr {
	if len(b) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&b[0]))
}

func keepAlive(b []byte) { runtime.KeepAlive(b) }
