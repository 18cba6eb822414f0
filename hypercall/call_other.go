// Host twin of the hypercall trampoline: there is no hypervisor, every call fails.

//go:build !(tamago && amd64)

package hypercall

import "github.com/tamaxen/tamaxen/xen"

func call(op, a1, a2, a3, a4, a5 uintptr) (int64, error) { return 0, xen.ErrNotSupported }

func bufAddr(b []byte) uintptr { return 0 }

func keepAlive(b []byte) {}

// Init fails on the host: there is no Xen to find.
func Init() (Leaves, error) { return Leaves{}, xen.ErrNotSupported }
