// Fuzzing what Xen writes: query_size results and the flags of grant entries.

package gnttab

import (
	"errors"
	"testing"

	"github.com/tamaxen/tamaxen/xen"
)

// FuzzHostileXen lets a hostile hypervisor choose the query_size results and then overwrite one
// grant entry with arbitrary bytes. New must stay within its bounds, and GrantAccess/EndAccess
// must follow the protocol whatever the entry holds, without panicking.
func FuzzHostileXen(f *testing.F) {
	f.Add(uint32(1), uint32(4), int16(0), uint16(10), uint64(0))
	f.Add(uint32(0), uint32(0xffffffff), int16(0), uint16(8), uint64(GTF_permit_access|GTF_reading))
	f.Add(uint32(7), uint32(2), int16(-1), uint16(0), uint64(0xffffffffffffffff))
	f.Fuzz(func(t *testing.T, nr, max uint32, status int16, ref uint16, entry uint64) {
		mem := newFakeMem(4)
		x := newFakeXen(mem, max)
		x.nrFrames = nr
		x.status = Status(status)
		tab, err := New(x, mem, Config{})
		if err != nil {
			if status == 0 && max != 0 && nr <= max {
				t.Fatalf("valid query_size rejected: nr %d max %d: %v", nr, max, err)
			}
			return
		}
		if status != 0 || max == 0 || nr > max {
			t.Fatalf("invalid query_size accepted: nr %d max %d status %d", nr, max, status)
		}
		if _, limit := tab.Frames(); limit > MaxFramesCap || limit > max {
			t.Fatalf("limit %d beyond cap or Xen's max %d", limit, max)
		}

		r := xen.GrantRef(ref)
		e, err := tab.entry(r)
		if err != nil {
			if r >= GNTTAB_NR_RESERVED_ENTRIES && r < EntriesPerFrame {
				t.Fatalf("ref %d of frame 0 unusable: %v", r, err)
			}
			if tab.EndAccess(r) == nil || tab.GrantAccess(r, 1, 1, false) == nil {
				t.Fatalf("bad ref %d accepted", r)
			}
			return
		}
		le.PutUint64(e, entry)
		flags, domid := uint16(entry), uint16(entry>>16)

		err = tab.GrantAccess(r, 3, 0x1234, true)
		if (flags != 0) != errors.Is(err, ErrGranted) {
			t.Fatalf("GrantAccess over flags %#x: %v", flags, err)
		}
		if err == nil {
			flags, domid = GTF_permit_access|GTF_readonly, 3
		}
		err = tab.EndAccess(r)
		inUse := flags&(GTF_reading|GTF_writing) != 0
		if inUse != errors.Is(err, ErrInUse) || (!inUse && err != nil) {
			t.Fatalf("EndAccess over flags %#x: %v", flags, err)
		}
		want := uint32(domid)<<16 | uint32(flags)
		if !inUse {
			want &^= 0xffff
		}
		if got := le.Uint32(e); got != want {
			t.Fatalf("entry word %#x, want %#x", got, want)
		}
	})
}
