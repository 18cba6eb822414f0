// Package pvh is the portable half of a Xen PVH guest (x86-64): what the boot protocol hands
// the guest (hvm/start_info.h: the start info, its memory map, the command line) and the split
// of RAM between the Go runtime and the DMA region that pages shared with other domains come
// from.
//
// It imports neither TamaGo nor runtime/goos and is tested with the stock Go toolchain. The
// board (board/xenpvh) binds it to the CPU: its entry code copies the start info where
// ParseBootInfo reads it and sizes the runtime's RAM as ComputeLayout does.
package pvh
