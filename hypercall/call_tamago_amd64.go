// Hypercall page installation and the trampoline into it, on a TamaGo amd64 guest.

//go:build tamago && amd64

package hypercall

import (
	"errors"
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

// The trampolines call the stub at addr. An argument buffer reaches them as a slice, not as a
// uintptr: it may live on the caller's goroutine stack, and a stack that grows on the way
// (call is not nosplit) is copied elsewhere; the runtime then fixes up the typed pointers into
// it, never a uintptr, and Xen would read and write the old stack. The stubs themselves are
// NOSPLIT with no frame, so the stack cannot move between loading the address and the
// hypercall. Xen does not keep the address past the call, hence noescape: the buffers may stay
// on the stack and the datapath does not allocate.

func trampoline(addr, a1, a2 uintptr) int64

//go:noescape
func trampolineBuf2(addr, a1 uintptr, buf []byte, a3 uintptr) int64

//go:noescape
func trampolineBuf3(addr, a1, a2 uintptr, buf []byte) int64

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

// call issues hypercall op(a1, a2). callBuf2 issues op(a1, buf, a3) and callBuf3 op(a1, a2, buf),
// with the address of buf's first byte in buf's place.
func call(op, a1, a2 uintptr) (int64, error) {
	if page == 0 {
		return 0, xen.ErrNotSupported
	}
	return trampoline(page+op*32, a1, a2), nil
}

func callBuf2(op, a1 uintptr, buf []byte, a3 uintptr) (int64, error) {
	if page == 0 {
		return 0, xen.ErrNotSupported
	}
	return trampolineBuf2(page+op*32, a1, buf, a3), nil
}

func callBuf3(op, a1, a2 uintptr, buf []byte) (int64, error) {
	if page == 0 {
		return 0, xen.ErrNotSupported
	}
	return trampolineBuf3(page+op*32, a1, a2, buf), nil
}
