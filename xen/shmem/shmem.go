// Package shmem reaches the words of memory shared with another domain or with Xen: ring
// indices, grant entry flags, event channel bitmaps, clock fields, console and XenStore ring
// indices. Every wire layout in tamaxen is a []byte view with byte offsets from its header; this
// package turns an offset into the word there, typed as a sync/atomic value so that the only way
// to touch it is an atomic operation. The other side writes these words concurrently: a plain
// load could be torn, hoisted out of a loop by the compiler, or reordered with the slot
// accesses it is meant to order. Go's atomics are sequentially consistent, which gives each
// ordering point what xen_rmb, xen_wmb and xen_mb give the C headers.
//
// Bytes the other side cannot change while we use them (a ring slot once copied out, a request
// being built, a hypercall argument) are not shared words: they are read and written with
// encoding/binary's little-endian helpers.
//
// It is portable Go, the same on the TamaGo guest and in host tests; the few unsafe lines live
// in shmem_unsafe.go.
package shmem

// Load32 atomically loads the 32-bit word at b[off:off+4].
func Load32(b []byte, off int) uint32 { return Uint32(b, off).Load() }

// Store32 atomically stores v in the 32-bit word at b[off:off+4].
func Store32(b []byte, off int, v uint32) { Uint32(b, off).Store(v) }

// Load64 atomically loads the 64-bit word at b[off:off+8].
func Load64(b []byte, off int) uint64 { return Uint64(b, off).Load() }

// Store64 atomically stores v in the 64-bit word at b[off:off+8].
func Store64(b []byte, off int, v uint64) { Uint64(b, off).Store(v) }
