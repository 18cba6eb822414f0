// Transaction tests: isolation, conflicts, the EAGAIN retry loop and its bound.

package xenstore_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/sim/xenstoretest"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

func TestTransactionIsolationAndCommit(t *testing.T) {
	transports(t, func(t *testing.T, srv *xenstoretest.Server, c *xenstore.Client) {
		ctx := context.Background()
		w, err := c.Watch(ctx, "cfg")
		require.NoError(t, err)
		next(t, w)

		tx, err := c.TransactionStart(ctx)
		require.NoError(t, err)
		assert.NotZero(t, tx.ID())
		require.NoError(t, xenstore.WriteString(ctx, tx, "cfg/a", "1"))
		require.NoError(t, tx.Mkdir(ctx, "cfg/b"))
		v, err := xenstore.ReadString(ctx, tx, "cfg/a")
		require.NoError(t, err)
		assert.Equal(t, "1", v)
		ids, err := tx.Directory(ctx, "cfg")
		require.NoError(t, err)
		assert.Equal(t, []string{"a", "b"}, ids)
		_, err = c.Read(ctx, "cfg/a")
		assert.ErrorIs(t, err, xen.ENOENT, "invisible outside before commit")

		require.NoError(t, tx.Commit(ctx))
		v, err = xenstore.ReadString(ctx, c, "cfg/a")
		require.NoError(t, err)
		assert.Equal(t, "1", v)
		// Watches fire at commit.
		got := map[string]bool{next(t, w).Path: true, next(t, w).Path: true}
		assert.Equal(t, map[string]bool{"cfg/a": true, "cfg/b": true}, got)
		assert.Zero(t, srv.Transactions())
	})
}

func TestTransactionAbortAndPerms(t *testing.T) {
	srv := xenstoretest.NewServer(testDomID, "guest")
	c := srv.NewClient(t)
	ctx := context.Background()
	require.NoError(t, srv.Write("k", "old"))
	tx, err := c.TransactionStart(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.Write(ctx, "k", []byte("new")))
	require.NoError(t, tx.SetPerms(ctx, "k", []xenstore.Perm{{Dom: testDomID, Access: xenstore.AccessRead}}))
	perms, err := tx.GetPerms(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, xenstore.AccessRead, perms[0].Access)
	require.NoError(t, tx.Rm(ctx, "name"))
	require.NoError(t, tx.Abort(ctx))
	v, _ := srv.Read("k")
	assert.Equal(t, "old", v)
	_, ok := srv.Read("name")
	assert.True(t, ok)
	assert.Zero(t, srv.Transactions())
}

func TestTransactionConflict(t *testing.T) {
	srv := xenstoretest.NewServer(testDomID, "guest")
	c := srv.NewClient(t)
	ctx := context.Background()
	tx, err := c.TransactionStart(ctx)
	require.NoError(t, err)
	_, err = tx.Read(ctx, "name")
	require.NoError(t, err)
	require.NoError(t, srv.Write("name", "renamed")) // another connection changes the store
	require.NoError(t, tx.Write(ctx, "k", []byte("v")))
	err = tx.Commit(ctx)
	assert.ErrorIs(t, err, xen.EAGAIN)
	assert.True(t, xenstore.Temporary(err), "a conflict is worth retrying")
	_, ok := srv.Read("k")
	assert.False(t, ok)
}

func TestUpdateRetries(t *testing.T) {
	transports(t, func(t *testing.T, srv *xenstoretest.Server, c *xenstore.Client) {
		ctx := context.Background()
		srv.FailCommits(3)
		runs := 0
		err := c.Update(ctx, func(tx *xenstore.Tx) error {
			runs++
			n, err := xenstore.ReadUint(ctx, tx, "domid", 16)
			if err != nil {
				return err
			}
			return xenstore.WriteString(ctx, tx, "double", strconv.FormatUint(2*n, 10))
		})
		require.NoError(t, err)
		assert.Equal(t, 4, runs)
		v, _ := srv.Read("double")
		assert.Equal(t, "14", v)
		assert.Zero(t, srv.Transactions())
	})
}

func TestUpdateGivesUp(t *testing.T) {
	defer xenstore.ShortBackoff()()
	srv := xenstoretest.NewServer(testDomID, "guest")
	c := srv.NewClient(t)
	srv.FailCommits(xenstore.MaxUpdateAttempts)
	runs := 0
	err := c.Update(context.Background(), func(tx *xenstore.Tx) error {
		runs++
		return tx.Write(context.Background(), "k", nil)
	})
	assert.ErrorIs(t, err, xen.EAGAIN)
	assert.Contains(t, err.Error(), "attempts")
	assert.Equal(t, xenstore.MaxUpdateAttempts, runs)
	assert.Zero(t, srv.Transactions())
}

func TestUpdateFnError(t *testing.T) {
	srv := xenstoretest.NewServer(testDomID, "guest")
	c := srv.NewClient(t)
	ctx := context.Background()
	boom := errors.New("boom")
	runs := 0
	err := c.Update(ctx, func(tx *xenstore.Tx) error {
		runs++
		require.NoError(t, tx.Write(ctx, "k", []byte("v")))
		return boom
	})
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 1, runs)
	_, ok := srv.Read("k")
	assert.False(t, ok, "aborted")
	assert.Zero(t, srv.Transactions())

	// EAGAIN from inside fn is retried like a failed commit.
	runs = 0
	err = c.Update(ctx, func(tx *xenstore.Tx) error {
		runs++
		if runs < 3 {
			return &xenstore.Error{Op: xenstore.XS_READ, Errno: xen.EAGAIN}
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 3, runs)
}
