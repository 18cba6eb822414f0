// Deferred revocation: retrying EndAccess until the grantee lets go of a page.

package gnttab

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tamaxen/tamaxen/xen"
)

// deferrer keeps the refs whose grantee still had them mapped when access was ended. Xen sends
// no event when a grantee unmaps, so, like Linux, we retry on a timer; the timer runs only while
// the list is non-empty.
type deferrer struct {
	t        *Table
	interval time.Duration

	mu      sync.Mutex // guards the fields below
	list    []deferred
	timer   *time.Timer
	armed   bool
	stopped bool
}

type deferred struct {
	ref  xen.GrantRef
	done func()
}

func (d *deferrer) init(t *Table, interval time.Duration) {
	d.t, d.interval = t, interval
}

// EndAccessDeferred ends access through ref and frees it, now if the grantee has unmapped the
// page, otherwise as soon as a retry finds it unmapped. done (may be nil) is called once the
// access has ended: from then on the page may be reused or freed. It runs on the caller's
// goroutine if access ends at once, else on the retry timer's or RetryDeferred's caller's.
func (t *Table) EndAccessDeferred(ref xen.GrantRef, done func()) error {
	if !t.allocated(ref) {
		return fmt.Errorf("%w: deferred end of unallocated ref %d", ErrBadRef, ref)
	}
	err := t.EndAccess(ref)
	if err == nil {
		t.finish(deferred{ref, done})
		return nil
	}
	if !errors.Is(err, ErrInUse) {
		return err
	}
	d := &t.def
	d.mu.Lock()
	d.list = append(d.list, deferred{ref, done})
	d.armLocked()
	d.mu.Unlock()
	return nil
}

// RetryDeferred retries every deferred revocation now and returns how many are still waiting
// for their grantee.
func (t *Table) RetryDeferred() int {
	d := &t.def
	d.mu.Lock()
	todo := d.list
	d.list = nil
	d.mu.Unlock()

	var keep []deferred
	for _, x := range todo {
		if t.EndAccess(x.ref) == nil {
			t.finish(x)
		} else {
			keep = append(keep, x)
		}
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	d.list = append(d.list, keep...)
	return len(d.list)
}

// Deferred returns the number of revocations waiting for their grantee.
func (t *Table) Deferred() int {
	t.def.mu.Lock()
	defer t.def.mu.Unlock()
	return len(t.def.list)
}

// Close stops the retry timer; RetryDeferred still works. Grant frames stay mapped (Xen cannot
// take them back), and pages still deferred stay out of use on purpose: the grantee may write them.
func (t *Table) Close() {
	d := &t.def
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	if d.timer != nil {
		d.timer.Stop()
	}
	d.armed = false
}

func (t *Table) finish(x deferred) {
	// EndAccess succeeded and allocated(ref) held, so only a concurrent double free by the
	// caller could make this fail; the page is safe to reuse either way.
	_ = t.FreeRef(x.ref)
	if x.done != nil {
		x.done()
	}
}

func (t *Table) allocated(ref xen.GrantRef) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, err := t.entry(ref)
	return err == nil && t.used[ref/64]&(1<<(ref%64)) != 0
}

func (d *deferrer) armLocked() {
	if d.armed || d.stopped || len(d.list) == 0 {
		return
	}
	d.armed = true
	if d.timer == nil {
		d.timer = time.AfterFunc(d.interval, d.fire)
	} else {
		d.timer.Reset(d.interval)
	}
}

func (d *deferrer) fire() {
	d.mu.Lock()
	d.armed = false
	d.mu.Unlock()
	d.t.RetryDeferred()
	d.mu.Lock()
	d.armLocked()
	d.mu.Unlock()
}
