// Go's memory profiler, back on where the runtime has room for it.

//go:build tamago && amd64

package xenpvh

import "runtime"

// profileRAM is the runtime's RAM from which the memory profiler is on: tamaxen build turns
// it off (GODEBUG memprofilerate=0 in the image), since its first sample allocates a 1.4 MiB
// table of stacks outside the heap, from the RAM the heap's next 4 MiB arena would take. A
// 20 MiB guest has no room for it; from memory = 48 (41 MiB of runtime RAM) the profiler costs
// under a tenth of the heap, and /debug/pprof/heap has samples again.
const profileRAM = 40 << 20

// memProfileRate is runtime.MemProfileRate's default, which the profiler gets back.
const memProfileRate = 512 << 10

func init() {
	// ramSize was set by the entry code before Go started: no ordering among init functions.
	if ramSize >= profileRAM && runtime.MemProfileRate == 0 {
		runtime.MemProfileRate = memProfileRate
	}
}
