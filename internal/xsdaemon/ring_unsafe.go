// The unsafe step that reaches the interface page's indices atomically.

package xsdaemon

import "unsafe"

// word32 returns the u32 at off in a page; the page is at least 4-aligned and off 4-aligned.
func word32(page []byte, off int) *uint32 {
	return (*uint32)(unsafe.Pointer(&page[off : off+4][0]))
}
