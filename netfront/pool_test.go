// The page pool against the simulated Xen's memory and grant table.

package netfront

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/gnttab"
	"github.com/tamaxen/tamaxen/xen/sim/machine"
)

// poolHost is a simulated host with no backend: dom0 only maps what the test tells it to.
func poolHost(t *testing.T, grants gnttab.Config) (*machine.Machine, func() int) {
	m, err := machine.New(machine.Config{NoBackend: true, GuestPages: 1600, GuestGrants: grants})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	mem := m.Guest.Domain.Memory().(interface{ Free() int })
	return m, mem.Free
}

func TestPagePool(t *testing.T) {
	m, freePages := poolHost(t, gnttab.Config{})
	grants := m.Guest.Grants
	pagesBefore, refsBefore := freePages(), grants.InUse()
	p := newPagePool(m.Platform.Memory, grants, 0)

	ring, ringRef, err := p.grant(false)
	require.NoError(t, err)
	bufs, err := p.buffers(8, true)
	require.NoError(t, err)
	assert.Equal(t, pagesBefore-9, freePages())
	assert.Equal(t, refsBefore+9, grants.InUse())
	assert.Equal(t, 8, bufs.idle())

	// Every page is granted to the backend, zeroed; TX buffers read-only.
	ring.Data[0] = 0xaa
	rm, err := m.Dom0.Domain.MapGrant(m.Guest.Domain.ID(), ringRef, true)
	require.NoError(t, err)
	assert.Equal(t, byte(0xaa), rm.Data[0])
	rm.Unmap()
	_, err = m.Dom0.Domain.MapGrant(m.Guest.Domain.ID(), bufs.refs[2], true)
	assert.Error(t, err, "a TX buffer mapped writable")
	bm, err := m.Dom0.Domain.MapGrant(m.Guest.Domain.ID(), bufs.refs[2], false)
	require.NoError(t, err)
	assert.Equal(t, make([]byte, xen.PageSize), bm.Data, "granted without being zeroed")

	// Ids are taken from 0 up, and given back without allocating.
	for want := range uint16(8) {
		assert.Equal(t, want, bufs.take())
	}
	assert.Zero(t, bufs.idle())
	for id := range uint16(8) {
		bufs.give(id)
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() { bufs.give(bufs.take()) }))

	// Release with buffer 2 still mapped: everything else comes back now, that page and its
	// ref once the backend unmaps it, and not before.
	var logs []string
	logf := func(format string, args ...any) { logs = append(logs, fmt.Sprintf(format, args...)) }
	assert.Equal(t, 1, p.release(logf))
	assert.Empty(t, logs)
	assert.Equal(t, pagesBefore-1, freePages(), "a page still mapped was freed")
	assert.Equal(t, refsBefore+1, grants.InUse())
	assert.Equal(t, 1, grants.Deferred())
	bm.Unmap()
	assert.Zero(t, grants.RetryDeferred())
	assert.Equal(t, pagesBefore, freePages())
	assert.Equal(t, refsBefore, grants.InUse())
	assert.Zero(t, p.release(logf), "a second release has nothing left")
}

// A pool that ran out of grant references half-way gives back what it took, the page whose
// grant failed included.
func TestPagePoolExhausted(t *testing.T) {
	m, freePages := poolHost(t, gnttab.Config{MaxFrames: 1})
	grants := m.Guest.Grants
	pagesBefore, refsBefore := freePages(), grants.InUse()
	p := newPagePool(m.Platform.Memory, grants, 0)
	_, err := p.buffers(1000, false)
	require.ErrorIs(t, err, gnttab.ErrNoRefs)
	assert.Equal(t, len(p.refs)+1, len(p.pages), "the page whose grant failed is the pool's")
	assert.Zero(t, p.release(func(string, ...any) {}))
	assert.Equal(t, pagesBefore, freePages())
	assert.Equal(t, refsBefore, grants.InUse())
}
