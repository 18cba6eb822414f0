// Fault injection: injected errors reach the client as sent, and end when asked to.

package xenstored

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

func TestFaults(t *testing.T) {
	s := newStore(t)
	require.NoError(t, s.MakeDomain(7, "guest"))
	c := client(t, s, 7)
	ctx := hangCtx(t)

	s.Fail("/local/domain/7/data/x", "ENOSPC")
	err := c.Write(ctx, "data/x", []byte("1"))
	assert.ErrorIs(t, err, xen.ENOSPC, "a relative path names the same node")
	_, err = c.Read(ctx, "/local/domain/7/data/x")
	var xe *xenstore.Error
	require.ErrorAs(t, err, &xe)
	assert.Equal(t, "ENOSPC", xe.Name)
	require.NoError(t, c.Write(ctx, "data/y", []byte("1")), "other nodes work")
	s.Fail("/local/domain/7/data/x", "")
	require.NoError(t, c.Write(ctx, "data/x", []byte("1")))

	s.FailCommits(2)
	runs := 0
	require.NoError(t, c.Update(ctx, func(tx *xenstore.Tx) error {
		runs++
		return tx.Write(ctx, "data/x", []byte("2"))
	}))
	assert.Equal(t, 3, runs)
	assert.Zero(t, s.Stats().Conflicts, "an injected failure is not a conflict")
	assert.Equal(t, 3, s.Count(xenstore.XS_TRANSACTION_START))
	assert.Equal(t, 6, s.Count(xenstore.XS_WRITE), "refused requests count too")
}
