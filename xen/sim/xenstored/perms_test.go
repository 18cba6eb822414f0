// Permissions as xenstored enforces them, on the home and vif libxl lays out.

package xenstored

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

func TestGuestPermissions(t *testing.T) {
	s := newStore(t)
	require.NoError(t, s.MakeDomain(7, "seven"))
	require.NoError(t, s.MakeDomain(8, "eight"))
	require.NoError(t, s.AddVif(7, 0, "00:16:3e:00:00:07", 0))
	g7 := client(t, s, 7)
	g8 := client(t, s, 8)
	ctx := hangCtx(t)
	front, back := VifPaths(7, 0, 0)

	tests := []struct {
		name string
		op   func() error
		want error
	}{
		{"read own name", func() error { _, err := g7.Read(ctx, "name"); return err }, nil},
		{"write own name (read-only)", func() error { return g7.Write(ctx, "name", []byte("x")) }, xen.EACCES},
		{"create in own home (dom0's)", func() error { return g7.Write(ctx, "newkey", []byte("x")) }, xen.EACCES},
		{"write in data", func() error { return g7.Write(ctx, "data/k", []byte("x")) }, nil},
		{"write frontend key", func() error { return g7.Write(ctx, front+"/tx-ring-ref", []byte("8")) }, nil},
		{"write frontend state", func() error { return g7.Write(ctx, front+"/state", []byte("4")) }, nil},
		{"write read-only mtu", func() error { return g7.Write(ctx, front+"/mtu", []byte("9000")) }, xen.EACCES},
		{"read mtu", func() error { _, err := g7.Read(ctx, front+"/mtu"); return err }, nil},
		{"read backend state", func() error { _, err := g7.Read(ctx, back+"/state"); return err }, nil},
		{"write backend state", func() error { return g7.Write(ctx, back+"/state", []byte("4")) }, xen.EACCES},
		{"read other's home", func() error { _, err := g8.Read(ctx, "/local/domain/7/name"); return err }, xen.EACCES},
		{"probe other's missing node", func() error { _, err := g8.Read(ctx, "/local/domain/7/data/none"); return err }, xen.EACCES},
		{"own missing node", func() error { _, err := g7.Read(ctx, "data/none"); return err }, xen.ENOENT},
		{"read other's frontend", func() error { _, err := g8.Read(ctx, front+"/mac"); return err }, xen.EACCES},
		{"list dom0", func() error { _, err := g7.Directory(ctx, "/local/domain/0"); return err }, xen.EACCES},
		{"rm backend", func() error { return g7.Rm(ctx, back) }, xen.EACCES},
		{"give a node away", func() error {
			return g7.SetPerms(ctx, "data/k", []xenstore.Perm{{Dom: 8, Access: xenstore.AccessBoth}})
		}, xen.EPERM},
		{"share a node", func() error {
			return g7.SetPerms(ctx, "data/k", []xenstore.Perm{{Dom: 7, Access: xenstore.AccessNone}, {Dom: 8, Access: xenstore.AccessRead}})
		}, nil},
		{"read shared node", func() error { _, err := g8.Read(ctx, "/local/domain/7/data/k"); return err }, nil},
		{"write shared read-only node", func() error { return g8.Write(ctx, "/local/domain/7/data/k", nil) }, xen.EACCES},
		{"read /tool", func() error { _, err := g7.Read(ctx, "/tool"); return err }, xen.EACCES},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			if tt.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.want)
			}
		})
	}
	// What a guest creates it owns.
	assert.Equal(t, []xenstore.Perm{{Dom: 7, Access: xenstore.AccessNone}, {Dom: 0, Access: xenstore.AccessRead}},
		s.Perms(front+"/tx-ring-ref"))
}

// Watch events reach only domains that may read the changed node.
func TestWatchEventsRespectPermissions(t *testing.T) {
	s := newStore(t)
	require.NoError(t, s.MakeDomain(8, "eight"))
	g8 := client(t, s, 8)
	ctx := hangCtx(t)
	w, err := g8.Watch(ctx, "/local/domain")
	require.NoError(t, err)
	assert.Equal(t, "/local/domain", next(t, w))
	require.NoError(t, s.MakeDomain(7, "seven"))              // readable by 7 and dom0 only
	require.NoError(t, s.Write("/local/domain/8/data/x", "")) // readable by 8
	assert.Equal(t, "/local/domain/8/data/x", next(t, w), "no event for dom7's nodes came first")
}
