// The guest's entry time: the origin of the boot timeline.

//go:build tamago && amd64

package xenpvh

import "time"

var (
	// entryTSC is the TSC at the PVH entry point, written by the entry code (0 when the
	// board's entry code is not linked in, without linkcpuinit).
	entryTSC uint64
	// entryTime is nanotime's reading of that moment, set by Init.
	entryTime int64
)

// entryNanotime returns the entry's time on nanotime's clock: the clock now, less the TSC
// ticks since entry at the rate Xen gives in CPUID; without either, now (Hwinit1, a few
// milliseconds late, is then the origin).
func entryNanotime() int64 {
	tsc := rdtsc()
	now := nanotime()
	if entryTSC == 0 || tsc < entryTSC || earlyMul == 0 {
		return now
	}
	return now - int64(float64(tsc-entryTSC)*earlyMul)
}

// SinceEntry returns the time since Xen started the guest at its PVH entry point (to within
// the few microseconds the entry code spends building page tables): the clock of the boot
// timeline.
func SinceEntry() time.Duration { return time.Duration(nanotime() - entryTime) }
