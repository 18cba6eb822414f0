// Runtime memory variables, set up by the PVH entry code before Go starts.

//go:build tamago && amd64

package xenpvh

import _ "unsafe"

// ramStart is where the image is linked (-T 0x201000 with a 4 KiB ELF header page): the runtime's
// memory starts there. Below it live the page tables and the boot stack.
//
//go:linkname ramStart runtime/goos.RamStart
var ramStart uint64 = 0x200000

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
