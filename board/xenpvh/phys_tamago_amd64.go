// Guest-physical pages as byte slices: TamaGo identity-maps memory.

//go:build tamago && amd64

package xenpvh

import (
	"unsafe"

	"github.com/tamaxen/tamaxen/xen"
)

// physPage returns the page at guest-physical address addr, which the page tables built by the
// entry code map one to one. Used for pages the toolstack placed (console, XenStore rings).
func physPage(addr uint64) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(nil), uintptr(addr))), xen.PageSize)
}
