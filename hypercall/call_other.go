// Host twin of the hypercall trampoline: there is no hypervisor, every call fails.

//go:build !(tamago && amd64)

package hypercall

import "github.com/tamaxen/tamaxen/xen"

func call(op, a1, a2 uintptr) (int64, error) { return 0, xen.ErrNotSupported }

func callBuf2(op, a1 uintptr, buf []byte, a3 uintptr) (int64, error) { return 0, xen.ErrNotSupported }

func callBuf3(op, a1, a2 uintptr, buf []byte) (int64, error) { return 0, xen.ErrNotSupported }

// Init fails on the host: there is no Xen to find.
func Init() (Leaves, error) { return Leaves{}, xen.ErrNotSupported }
