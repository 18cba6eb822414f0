// The grant reference free list: batch allocation, growth on demand, waiting when exhausted.

package gnttab

import (
	"context"
	"errors"
	"fmt"

	"github.com/tamaxen/tamaxen/xen"
)

// AllocRef allocates one reference, growing the table if needed. It does not allocate memory
// unless the table grows. It returns ErrNoRefs when the table is full at its maximum size.
func (t *Table) AllocRef() (xen.GrantRef, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.reserveLocked(1); err != nil {
		return 0, err
	}
	return t.popLocked(), nil
}

// AllocRefs allocates n references, all or none, growing the table one frame at a time as
// needed. Drivers allocate their references once at connect time and reuse them.
func (t *Table) AllocRefs(n int) ([]xen.GrantRef, error) {
	if err := t.checkCount(n); err != nil {
		return nil, err
	}
	refs := make([]xen.GrantRef, n)
	if err := t.AllocRefsInto(refs); err != nil {
		return nil, err
	}
	return refs, nil
}

// AllocRefsInto fills refs with newly allocated references, all or none, without allocating.
func (t *Table) AllocRefsInto(refs []xen.GrantRef) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.reserveLocked(len(refs)); err != nil {
		return err
	}
	for i := range refs {
		refs[i] = t.popLocked()
	}
	return nil
}

// AllocRefsWait is AllocRefs that waits, instead of returning ErrNoRefs, until other users free
// enough references or ctx ends. Requests the table can never satisfy fail at once.
func (t *Table) AllocRefsWait(ctx context.Context, n int) ([]xen.GrantRef, error) {
	if err := t.checkCount(n); err != nil {
		return nil, err
	}
	refs := make([]xen.GrantRef, n)
	for {
		err := t.AllocRefsInto(refs)
		if err == nil {
			return refs, nil
		}
		if !errors.Is(err, ErrNoRefs) {
			return nil, err
		}
		t.mu.Lock()
		if len(t.free) >= n {
			t.mu.Unlock() // freed between our attempt and the lock: try again
			continue
		}
		if t.waiter == nil {
			t.waiter = make(chan struct{})
		}
		ch := t.waiter
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// checkCount rejects requests that no state of the table could satisfy.
func (t *Table) checkCount(n int) error {
	if n < 0 {
		return fmt.Errorf("gnttab: allocate %d refs: %w", n, xen.EINVAL)
	}
	if uint64(n) > t.capacity() {
		return fmt.Errorf("%w: %d refs requested, the table holds at most %d", ErrNoRefs, n, t.capacity())
	}
	return nil
}

// capacity is the number of references the table holds at its maximum size.
func (t *Table) capacity() uint64 {
	return uint64(t.limit)*EntriesPerFrame - GNTTAB_NR_RESERVED_ENTRIES
}

// Free returns the number of references free without growing the table.
func (t *Table) Free() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.free)
}

// InUse returns the number of references allocated and not yet freed (the reserved entries
// excluded): the figure to watch for leaks.
func (t *Table) InUse() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(t.mapped.Load())*EntriesPerFrame - GNTTAB_NR_RESERVED_ENTRIES - len(t.free)
}

// reserveLocked grows the table until n references are free, or fails leaving the free list as
// it was (plus any frames it managed to map).
func (t *Table) reserveLocked(n int) error {
	if err := t.checkCount(n); err != nil {
		return err
	}
	for len(t.free) < n {
		if err := t.growLocked(); err != nil {
			return err
		}
	}
	return nil
}

func (t *Table) popLocked() xen.GrantRef {
	r := t.free[len(t.free)-1]
	t.free = t.free[:len(t.free)-1]
	t.used[r/64] |= 1 << (r % 64)
	return r
}

// FreeRef returns ref to the free list. The entry must no longer grant access (EndAccess
// succeeded); freeing a granted, reserved, or unallocated ref fails and changes nothing.
func (t *Table) FreeRef(ref xen.GrantRef) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.checkFreeLocked(ref); err != nil {
		return err
	}
	t.pushLocked(ref)
	t.wakeLocked()
	return nil
}

// FreeRefs frees every ref, all or none.
func (t *Table) FreeRefs(refs []xen.GrantRef) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, r := range refs {
		// Clearing the used bit as we go makes a duplicate fail the check as unallocated.
		if err := t.checkFreeLocked(r); err != nil {
			for _, s := range refs[:i] {
				t.used[s/64] |= 1 << (s % 64)
			}
			return err
		}
		t.used[r/64] &^= 1 << (r % 64)
	}
	t.free = append(t.free, refs...)
	t.wakeLocked()
	return nil
}

func (t *Table) checkFreeLocked(ref xen.GrantRef) error {
	e, err := t.entry(ref)
	if err != nil || t.used[ref/64]&(1<<(ref%64)) == 0 {
		return fmt.Errorf("%w: free of unallocated ref %d", ErrBadRef, ref)
	}
	if flags(e) != 0 {
		return fmt.Errorf("%w: free of ref %d", ErrGranted, ref)
	}
	return nil
}

func (t *Table) pushLocked(ref xen.GrantRef) {
	t.used[ref/64] &^= 1 << (ref % 64)
	t.free = append(t.free, ref) // within the capacity reserved when the frame was mapped
}

// wakeLocked releases every AllocRefsWait caller; each re-tries under the lock.
func (t *Table) wakeLocked() {
	if t.waiter != nil {
		close(t.waiter)
		t.waiter = nil
	}
}
