// Test helpers: a simulated machine per test, booted domains, contexts that turn hangs into
// failures.

package sim

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/shmem"
)

// newXen returns a simulated Xen stopped when the test ends.
func newXen(t testing.TB) *Xen {
	x := New(Config{})
	t.Cleanup(x.Close)
	return x
}

// bootPair returns dom0 and guest dom7, both booted with the real evtchn and gnttab packages.
func bootPair(t testing.TB, x *Xen) (dom0, guest *Services) {
	g, err := x.NewDomain(7, DomainConfig{Pages: 64})
	require.NoError(t, err)
	dom0, err = x.Dom0().Boot(gnttab.Config{})
	require.NoError(t, err)
	guest, err = g.Boot(gnttab.Config{})
	require.NoError(t, err)
	t.Cleanup(dom0.Grants.Close)
	t.Cleanup(guest.Grants.Close)
	return dom0, guest
}

// hangCtx bounds a wait that would otherwise block forever on a lost event; it is a hang
// detector, not a timing assertion.
func hangCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// page allocates a page of d's RAM filled with b.
func fillPage(t testing.TB, d *Domain, b byte) xen.Page {
	pg, err := d.Memory().AllocPage()
	require.NoError(t, err)
	for i := range pg.Data {
		pg.Data[i] = b
	}
	return pg
}

// grantEntry returns the flags+domid word of one of the domain's grant entries, for tests.
func (d *Domain) grantEntry(ref xen.GrantRef) uint32 {
	d.x.mu.Lock()
	defer d.x.mu.Unlock()
	e := d.gt.entry(ref)
	if e == nil {
		return 0
	}
	return shmem.Load32(e, gnttab.OffsetofGrantEntryV1Flags)
}
