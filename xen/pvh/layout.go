// Memory layout decisions: where the Go runtime's RAM, its stack and the DMA region go.

package pvh

import "fmt"

// DMA region sizing: an eighth of the RAM above RamStart, 1 MiB aligned, between 1 and 16 MiB.
// Shared ring and buffer pages come from it, apart from the Go heap so that nothing else ever
// shares a page with memory granted to another domain.
const (
	DMAAlign = 1 << 20
	DMAMin   = 1 << 20
	DMAMax   = 16 << 20
)

// Layout is the split of guest RAM made at boot. The board's entry assembly computes RAMSize the
// same way before Go starts; the board checks the two agree.
type Layout struct {
	RAMStart uint64 // start of the Go runtime's memory (the linked image starts here)
	RAMSize  uint64 // bytes given to the Go runtime (image, heap, stacks)
	DMAStart uint64 // start of the DMA region, right after the runtime's memory
	DMASize  uint64
	RAMEnd   uint64 // end of the RAM map entry holding RAMStart
}

// ComputeLayout derives the layout from the memory map for an image linked at ramStart.
func ComputeLayout(mm []MemmapEntry, ramStart uint64) (Layout, error) {
	for _, e := range mm {
		if e.Type != XEN_HVM_MEMMAP_TYPE_RAM || ramStart < e.Addr || ramStart >= e.End() {
			continue
		}
		avail := e.End() - ramStart
		dma := avail / 8 &^ (DMAAlign - 1)
		dma = max(dma, DMAMin)
		dma = min(dma, DMAMax)
		if avail < dma+8<<20 {
			return Layout{}, fmt.Errorf("pvh: %d MiB of RAM above %#x is too little", avail>>20, ramStart)
		}
		return Layout{
			RAMStart: ramStart,
			RAMSize:  avail - dma,
			DMAStart: ramStart + avail - dma,
			DMASize:  dma,
			RAMEnd:   e.End(),
		}, nil
	}
	return Layout{}, fmt.Errorf("pvh: no RAM entry in the memory map holds %#x", ramStart)
}

// TotalRAM sums the RAM entries of the memory map.
func TotalRAM(mm []MemmapEntry) uint64 {
	var n uint64
	for _, e := range mm {
		if e.Type == XEN_HVM_MEMMAP_TYPE_RAM {
			n += e.Size
		}
	}
	return n
}
