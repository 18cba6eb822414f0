// Package pvh is the portable half of a Xen PVH guest (x86-64): what the boot protocol hands
// the guest (hvm/start_info.h: the start info, its memory map, the command line), the split of
// RAM between the Go runtime and the DMA region that pages shared with other domains come from,
// and the order of the steps that suspend the domain and bring it back in a new one (xl save,
// xl restore).
//
// It imports neither TamaGo nor runtime/goos and is tested with the stock Go toolchain. The
// board (board/xenpvh) binds it to the CPU: its entry code copies the start info where
// ParseBootInfo reads it and sizes the runtime's RAM as ComputeLayout does, and it hands
// Suspend the hypercalls as a Board.
package pvh
