// Package console writes to and reads from the Xen PV console ring (io/console.h).
//
// The ring page (struct xencons_interface) holds two byte rings: in (backend to guest, 1024
// bytes) and out (guest to backend, 2048 bytes), each with free-running u32 producer and consumer
// indices. xenconsoled in dom0 drains out when the guest notifies the console event channel, and
// logs it or forwards it to `xl console`. Writes never block: the console is for diagnostics and
// must not stall the guest when nobody reads it, so bytes that do not fit are dropped and counted.
package console

import (
	"errors"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

// struct xencons_interface layout (io/console.h).
const (
	InOff      = 0
	InSize     = 1024
	OutOff     = 1024
	OutSize    = 2048
	InConsOff  = 3072
	InProdOff  = 3076
	OutConsOff = 3080
	OutProdOff = 3084
)

// Ring is the guest's side of a console ring page.
type Ring struct {
	page    []byte
	dropped atomic.Uint64
}

// New wraps a console ring page. The page must be xen.PageSize bytes and 4-byte aligned.
func New(page []byte) (*Ring, error) {
	if len(page) < xen.PageSize {
		return nil, errors.New("console: ring page too small")
	}
	if !shmem.Aligned(page, 4) {
		return nil, errors.New("console: ring page not aligned")
	}
	return &Ring{page: page[:xen.PageSize]}, nil
}

// Write copies as much of p into the out ring as fits and returns how many bytes it copied.
// It does not notify the backend; the caller does, after a line or a batch.
func (r *Ring) Write(p []byte) int {
	cons := shmem.Load32(r.page, OutConsOff)
	prod := shmem.Load32(r.page, OutProdOff)
	used := prod - cons
	if used > OutSize {
		// The backend wrote a consumer index past our producer: trust nothing, write nothing.
		r.dropped.Add(uint64(len(p)))
		return 0
	}
	n := min(len(p), int(OutSize-used))
	for i := 0; i < n; i++ {
		r.page[OutOff+int((prod+uint32(i))%OutSize)] = p[i]
	}
	// The atomic store publishes the bytes above before the new producer index.
	shmem.Store32(r.page, OutProdOff, prod+uint32(n))
	if n < len(p) {
		r.dropped.Add(uint64(len(p) - n))
	}
	return n
}

// Read copies pending input bytes into p and returns how many it copied.
func (r *Ring) Read(p []byte) int {
	cons := shmem.Load32(r.page, InConsOff)
	prod := shmem.Load32(r.page, InProdOff)
	avail := prod - cons
	if avail > InSize {
		return 0
	}
	n := min(len(p), int(avail))
	for i := 0; i < n; i++ {
		p[i] = r.page[InOff+int((cons+uint32(i))%InSize)]
	}
	// The bytes are copied out before the consumer index frees their slots.
	shmem.Store32(r.page, InConsOff, cons+uint32(n))
	return n
}

// Drained reports whether the backend has consumed everything written so far.
func (r *Ring) Drained() bool {
	return shmem.Load32(r.page, OutConsOff) == shmem.Load32(r.page, OutProdOff)
}

// Dropped is the number of bytes discarded because the out ring was full.
func (r *Ring) Dropped() uint64 { return r.dropped.Load() }
