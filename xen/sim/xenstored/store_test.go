// Operations, transactions and watches over the wire, with the real xenstore client.

package xenstored

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

func TestBasicOps(t *testing.T) {
	s := newStore(t)
	c := client(t, s, 0)
	ctx := hangCtx(t)
	require.NoError(t, c.Write(ctx, "/a/b/c", []byte("v")))
	v, err := c.Read(ctx, "/a/b/c")
	require.NoError(t, err)
	assert.Equal(t, "v", string(v))
	v, err = c.Read(ctx, "/a/b")
	require.NoError(t, err)
	assert.Empty(t, v, "parents are created empty")
	require.NoError(t, c.Mkdir(ctx, "/a/b/c"))
	v, _ = c.Read(ctx, "/a/b/c")
	assert.Equal(t, "v", string(v), "mkdir leaves an existing node alone")
	require.NoError(t, c.Write(ctx, "/a/b/d", nil))
	names, err := c.Directory(ctx, "/a/b")
	require.NoError(t, err)
	assert.Equal(t, []string{"c", "d"}, names)
	require.NoError(t, c.Rm(ctx, "/a/b"))
	_, err = c.Read(ctx, "/a/b/c")
	assert.ErrorIs(t, err, xen.ENOENT)
	require.NoError(t, c.Rm(ctx, "/a/b"), "removing what is gone succeeds when the parent exists")
	assert.ErrorIs(t, c.Rm(ctx, "/x/y"), xen.ENOENT)
	assert.ErrorIs(t, c.Rm(ctx, "/"), xen.EINVAL)
	_, err = c.Read(ctx, "/bad//path")
	assert.ErrorIs(t, err, xen.EINVAL)
	names, err = c.Directory(ctx, "/a")
	require.NoError(t, err)
	assert.Empty(t, names)
}

func TestTransactions(t *testing.T) {
	s := newStore(t)
	c := client(t, s, 0)
	other := client(t, s, 0)
	ctx := hangCtx(t)
	require.NoError(t, c.Write(ctx, "/n", []byte("0")))
	require.NoError(t, c.Write(ctx, "/m", []byte("0")))

	t.Run("isolated until commit", func(t *testing.T) {
		tx, err := c.TransactionStart(ctx)
		require.NoError(t, err)
		require.NoError(t, tx.Write(ctx, "/new/x", []byte("1")))
		v, err := tx.Read(ctx, "/new/x")
		require.NoError(t, err)
		assert.Equal(t, "1", string(v), "a transaction sees its own writes")
		_, err = other.Read(ctx, "/new/x")
		assert.ErrorIs(t, err, xen.ENOENT, "nobody else does")
		require.NoError(t, tx.Commit(ctx))
		v, err = other.Read(ctx, "/new/x")
		require.NoError(t, err)
		assert.Equal(t, "1", string(v))
	})
	t.Run("read node changed", func(t *testing.T) {
		tx, err := c.TransactionStart(ctx)
		require.NoError(t, err)
		_, err = tx.Read(ctx, "/n")
		require.NoError(t, err)
		require.NoError(t, tx.Write(ctx, "/m", []byte("tx")))
		require.NoError(t, other.Write(ctx, "/n", []byte("1")))
		assert.ErrorIs(t, tx.Commit(ctx), xen.EAGAIN)
		v, _ := other.Read(ctx, "/m")
		assert.Equal(t, "0", string(v), "a failed commit changes nothing")
	})
	t.Run("written node changed", func(t *testing.T) {
		tx, err := c.TransactionStart(ctx)
		require.NoError(t, err)
		require.NoError(t, tx.Write(ctx, "/m", []byte("tx")))
		require.NoError(t, other.Write(ctx, "/m", []byte("other")))
		assert.ErrorIs(t, tx.Commit(ctx), xen.EAGAIN)
	})
	t.Run("absent node appeared", func(t *testing.T) {
		tx, err := c.TransactionStart(ctx)
		require.NoError(t, err)
		_, err = tx.Read(ctx, "/later")
		assert.ErrorIs(t, err, xen.ENOENT)
		require.NoError(t, other.Write(ctx, "/later", nil))
		assert.ErrorIs(t, tx.Commit(ctx), xen.EAGAIN)
	})
	t.Run("unrelated change", func(t *testing.T) {
		tx, err := c.TransactionStart(ctx)
		require.NoError(t, err)
		_, err = tx.Read(ctx, "/n")
		require.NoError(t, err)
		require.NoError(t, other.Write(ctx, "/unrelated", []byte("x")))
		assert.NoError(t, tx.Commit(ctx), "no conflict on nodes the transaction did not touch")
	})
	t.Run("abort", func(t *testing.T) {
		tx, err := c.TransactionStart(ctx)
		require.NoError(t, err)
		require.NoError(t, tx.Rm(ctx, "/n"))
		require.NoError(t, tx.Abort(ctx))
		_, err = other.Read(ctx, "/n")
		assert.NoError(t, err)
	})
	t.Run("retry loop converges", func(t *testing.T) {
		attempts := 0
		err := c.Update(ctx, func(tx *xenstore.Tx) error {
			attempts++
			v, err := tx.Read(ctx, "/n")
			if err != nil {
				return err
			}
			if attempts == 1 {
				require.NoError(t, other.Write(ctx, "/n", []byte("changed")))
			}
			return tx.Write(ctx, "/n", append(v, '+'))
		})
		require.NoError(t, err)
		assert.Equal(t, 2, attempts)
		v, _ := other.Read(ctx, "/n")
		assert.Equal(t, "changed+", string(v))
	})
	assert.GreaterOrEqual(t, s.Stats().Conflicts, 4)
	assert.Zero(t, s.Stats().Transactions)
}

func TestWatches(t *testing.T) {
	s := newStore(t)
	c := client(t, s, 0)
	ctx := hangCtx(t)
	require.NoError(t, s.Write("/w/a", "1"))
	w, err := c.Watch(ctx, "/w")
	require.NoError(t, err)
	assert.Equal(t, "/w", next(t, w), "the initial event")

	require.NoError(t, s.Write("/w/a/b", "2"))
	assert.Equal(t, "/w/a/b", next(t, w), "a change below the watch")
	require.NoError(t, s.Write("/elsewhere", "x"))
	require.NoError(t, s.Write("/w", "3"))
	assert.Equal(t, "/w", next(t, w), "nothing for /elsewhere in between")

	deep, err := c.Watch(ctx, "/w/a/b")
	require.NoError(t, err)
	assert.Equal(t, "/w/a/b", next(t, deep))
	require.NoError(t, s.Rm("/w/a"))
	assert.Equal(t, "/w/a", next(t, w))
	assert.Equal(t, "/w/a/b", next(t, deep), "removal fires the watches below")

	// Transaction changes fire at commit, not before: a marker written meanwhile (outside
	// the nodes the transaction touched, which would make it conflict) arrives first.
	require.NoError(t, s.Write("/v", ""))
	wv, err := c.Watch(ctx, "/v")
	require.NoError(t, err)
	assert.Equal(t, "/v", next(t, wv))
	tx, err := c.TransactionStart(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.Write(ctx, "/w/t", []byte("x")))
	require.NoError(t, s.Write("/v/marker", ""))
	assert.Equal(t, "/v/marker", next(t, wv))
	require.NoError(t, tx.Commit(ctx))
	assert.Equal(t, "/w/t", next(t, w))
	require.NoError(t, c.Unwatch(ctx, wv))

	require.NoError(t, c.Unwatch(ctx, deep))
	assert.Equal(t, 1, s.Stats().Watches)
}

func TestRelativeWatchAndDomainPath(t *testing.T) {
	s := newStore(t)
	require.NoError(t, s.MakeDomain(7, "guest"))
	g := client(t, s, 7)
	ctx := hangCtx(t)
	w, err := g.Watch(ctx, "data")
	require.NoError(t, err)
	assert.Equal(t, "data", next(t, w))
	require.NoError(t, g.Write(ctx, "data/x", []byte("1")))
	assert.Equal(t, "data/x", next(t, w), "relative watches report relative paths")
	id, err := xenstore.Identify(ctx, g)
	require.NoError(t, err)
	assert.Equal(t, xen.DomID(7), id.DomID)
	assert.Equal(t, "guest", id.Name)
}
