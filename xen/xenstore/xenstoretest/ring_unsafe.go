// The unsafe step that lets the fake daemon reach the interface page's indices atomically.

package xenstoretest

import "unsafe"

// index returns a pointer to the u32 at off in page, which NewRingClient allocates 4-aligned.
func index(page []byte, off int) *uint32 {
	_ = page[off+3]
	return (*uint32)(unsafe.Pointer(&page[off]))
}
