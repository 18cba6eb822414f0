// Go's soft memory limit on Xen, from the heap's room and what the runtime holds beside it.

package unikernel

import "runtime"

// memoryLimit returns Go's soft memory limit for a heap that can grow to heap bytes (its
// arenas' room, see heapCapacity), given the runtime's memory statistics: 1 MiB short of that
// room, plus everything the runtime has mapped outside the arenas (its own metadata, the
// memory profiler's table), which the limit counts too. Goroutine stacks live in the arenas.
// Without the second term a small guest's limit sat below what the runtime already held, and
// the collector ran without pause: 603 collections in one 8 MiB download at memory = 24,
// whose heap has 0.6 MiB of live objects.
func memoryLimit(heap uint64, ms *runtime.MemStats) int64 {
	inArenas := ms.HeapSys + ms.StackSys
	outside := uint64(0)
	if ms.Sys > inArenas {
		outside = ms.Sys - inArenas
	}
	return int64(heap+outside) - 1<<20
}
