// Runtime memory variables, set up by the PVH entry code before Go starts.

//go:build tamago && amd64

package xenpvh

import _ "unsafe"

// ramStart is where the image is linked (-T 0x101000 with a 4 KiB ELF header page): the runtime's
// memory starts there. Below it live the page tables and the boot stack (the first 64 KiB).
//
// The runtime's heap grows in 4 MiB arenas aligned to 4 MiB, from the end of the image up to
// its initial stack, after a first 256 KiB of its own metadata taken from the end of the image:
// an image that ends less than that below a 4 MiB boundary loses the arena after it. Linked at
// 1 MiB rather than 2, an image of up to 10.7 MiB still has its first arena at 12 MiB, which is
// what lets httpd (9.8 MiB) serve in a 20 MiB guest.
//
//go:linkname ramStart runtime/goos.RamStart
var ramStart uint64 = 0x100000

// ramSize is computed by the entry code from the start info memory map (see pvh.ComputeLayout).
//
//go:linkname ramSize runtime/goos.RamSize
var ramSize uint64

// Written by the entry code, before the Go runtime starts.
var (
	bootInfo      [bootInfoSize]byte
	memmapCopied  uint32
	startInfoAddr uint64
	ramEnd        uint64
)
