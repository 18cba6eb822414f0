// Pages for sharing with other domains, from the DMA region.

//go:build tamago && amd64

package xenpvh

import (
	"errors"

	"github.com/usbarmory/tamago/dma"

	"github.com/tamaxen/tamaxen/xen"
)

// Memory hands out zeroed pages of the DMA region: memory the Go heap never uses, so a page
// granted to another domain never shares its frame with unrelated data.
var Memory xen.Memory = dmaMemory{}

type dmaMemory struct{}

var errNoPages = errors.New("xenpvh: DMA region exhausted")

func (dmaMemory) AllocPage() (p xen.Page, err error) {
	// TamaGo's dma package panics when the region is full; turn that into backpressure.
	defer func() {
		if recover() != nil {
			p, err = xen.Page{}, errNoPages
		}
	}()
	addr, buf := dma.Reserve(xen.PageSize, xen.PageSize)
	clear(buf)
	return xen.Page{Frame: xen.Frame(addr >> 12), Data: buf}, nil
}

func (dmaMemory) FreePage(p xen.Page) {
	dma.Release(uint(p.Frame.Addr()))
}
