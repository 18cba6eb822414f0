// Client tests against the fake xenstored: every operation, errors, limits and concurrency.

package xenstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/sim/xenstoretest"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

const testDomID = 7

// transports runs a test over each way a client reaches the daemon: a byte stream, and the
// shared page with its indices starting at zero and just before the u32 wrap.
func transports(t *testing.T, f func(t *testing.T, srv *xenstoretest.Server, c *xenstore.Client)) {
	for _, tc := range []struct {
		name string
		dial func(tb testing.TB, srv *xenstoretest.Server) *xenstore.Client
	}{
		{"pipe", func(tb testing.TB, srv *xenstoretest.Server) *xenstore.Client { return srv.NewClient(tb) }},
		{"ring", func(tb testing.TB, srv *xenstoretest.Server) *xenstore.Client {
			c, _ := srv.NewRingClient(tb, 0)
			return c
		}},
		{"ring-wrap", func(tb testing.TB, srv *xenstoretest.Server) *xenstore.Client {
			c, _ := srv.NewRingClient(tb, 0xffffff00)
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := xenstoretest.NewServer(testDomID, "guest")
			f(t, srv, tc.dial(t, srv))
		})
	}
}

func TestReadWriteRelativeAndAbsolute(t *testing.T) {
	transports(t, func(t *testing.T, srv *xenstoretest.Server, c *xenstore.Client) {
		ctx := context.Background()
		require.NoError(t, srv.Write("device/vif/0/mac", "00:16:3e:00:00:07"))

		for _, p := range []string{"device/vif/0/mac", "/local/domain/7/device/vif/0/mac"} {
			v, err := xenstore.ReadString(ctx, c, p)
			require.NoError(t, err, p)
			assert.Equal(t, "00:16:3e:00:00:07", v, p)
		}
		id, err := xenstore.Identify(ctx, c)
		require.NoError(t, err)
		assert.Equal(t, xenstore.Identity{DomID: testDomID, Name: "guest"}, id)
		n, err := xenstore.ReadUint(ctx, c, "/local/domain/7/domid", 16)
		require.NoError(t, err)
		assert.EqualValues(t, testDomID, n)

		// Values are byte strings: NULs and an empty value survive the trip.
		for _, v := range [][]byte{{}, []byte("a\x00b"), []byte(strings.Repeat("x", 4000))} {
			require.NoError(t, c.Write(ctx, "data/v", v))
			got, err := c.Read(ctx, "data/v")
			require.NoError(t, err)
			assert.Equal(t, len(v), len(got))
			assert.Equal(t, string(v), string(got))
		}
		got, ok := srv.Read("/local/domain/7/data/v")
		assert.True(t, ok)
		assert.Len(t, got, 4000)
	})
}

func TestDirectoryMkdirRm(t *testing.T) {
	transports(t, func(t *testing.T, srv *xenstoretest.Server, c *xenstore.Client) {
		ctx := context.Background()
		for _, id := range []string{"0", "1", "12"} {
			require.NoError(t, srv.Write("device/vif/"+id+"/backend-id", "0"))
		}
		ids, err := c.Directory(ctx, "device/vif")
		require.NoError(t, err)
		assert.Equal(t, []string{"0", "1", "12"}, ids)

		require.NoError(t, c.Mkdir(ctx, "empty/dir"))
		require.NoError(t, c.Mkdir(ctx, "empty/dir"), "mkdir of an existing node succeeds")
		ids, err = c.Directory(ctx, "empty/dir")
		require.NoError(t, err)
		assert.Empty(t, ids)
		v, err := c.Read(ctx, "empty/dir")
		require.NoError(t, err)
		assert.Empty(t, v)

		require.NoError(t, c.Rm(ctx, "device/vif/1"))
		ids, err = c.Directory(ctx, "/local/domain/7/device/vif")
		require.NoError(t, err)
		assert.Equal(t, []string{"0", "12"}, ids)
		_, err = c.Read(ctx, "device/vif/1/backend-id")
		assert.ErrorIs(t, err, xen.ENOENT)
		_, err = c.Directory(ctx, "device/vbd")
		assert.ErrorIs(t, err, xen.ENOENT)
	})
}

func TestPerms(t *testing.T) {
	transports(t, func(t *testing.T, srv *xenstoretest.Server, c *xenstore.Client) {
		ctx := context.Background()
		require.NoError(t, c.Write(ctx, "shared", []byte("x")))
		perms, err := c.GetPerms(ctx, "shared")
		require.NoError(t, err)
		assert.Equal(t, []xenstore.Perm{{Dom: testDomID, Access: xenstore.AccessNone}}, perms)

		want := []xenstore.Perm{{Dom: testDomID, Access: xenstore.AccessNone}, {Dom: 0, Access: xenstore.AccessRead}}
		require.NoError(t, c.SetPerms(ctx, "shared", want))
		perms, err = c.GetPerms(ctx, "/local/domain/7/shared")
		require.NoError(t, err)
		assert.Equal(t, want, perms)

		err = c.SetPerms(ctx, "shared", nil)
		assert.ErrorIs(t, err, xen.EINVAL, "an empty list has no owner")
		err = c.SetPerms(ctx, "shared", []xenstore.Perm{{Dom: 0, Access: 'x'}})
		assert.ErrorIs(t, err, xen.EINVAL)
		_, err = c.GetPerms(ctx, "missing")
		assert.ErrorIs(t, err, xen.ENOENT)
	})
}

func TestErrorMapping(t *testing.T) {
	srv := xenstoretest.NewServer(testDomID, "guest")
	c := srv.NewClient(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		errno     xen.Errno
		temporary bool
	}{
		{"EINVAL", xen.EINVAL, false}, {"EACCES", xen.EACCES, false}, {"EEXIST", xen.EEXIST, false},
		{"EISDIR", xen.EISDIR, false}, {"ENOENT", xen.ENOENT, false}, {"ENOMEM", xen.ENOMEM, false},
		{"ENOSPC", xen.ENOSPC, false}, {"EIO", xen.EIO, false}, {"ENOTEMPTY", xen.ENOTEMPTY, false},
		{"ENOSYS", xen.ENOSYS, false}, {"EROFS", xen.EROFS, false}, {"EBUSY", xen.EBUSY, true},
		{"EAGAIN", xen.EAGAIN, true}, {"EISCONN", xen.EISCONN, false}, {"E2BIG", xen.E2BIG, false},
		{"EPERM", xen.EPERM, false}, {"EQUOTA", xen.ENOSPC, false},
		{"EINVAL: Could not convert 'x' to int", xen.EINVAL, false}, {"EWHATEVER", xen.EINVAL, false},
	} {
		srv.Fail("locked", tc.name)
		_, err := c.Read(ctx, "locked")
		require.Error(t, err, tc.name)
		assert.ErrorIs(t, err, tc.errno, tc.name)
		assert.Equal(t, tc.temporary, xenstore.Temporary(err), tc.name)
		var xe *xenstore.Error
		require.ErrorAs(t, err, &xe, tc.name)
		assert.Equal(t, xenstore.XS_READ, xe.Op)
		assert.Equal(t, "locked", xe.Path)
		assert.Equal(t, tc.name, xe.Name)
		assert.Contains(t, err.Error(), "XS_READ locked")
	}
	srv.Fail("locked", "")
	// The connection survives error replies.
	require.NoError(t, c.Write(ctx, "locked", []byte("open")))
	assert.NoError(t, c.Err())
}

func TestLimits(t *testing.T) {
	srv := xenstoretest.NewServer(testDomID, "guest")
	c := srv.NewClient(t)
	ctx := context.Background()
	abs := "/" + strings.Repeat("a", xenstore.XENSTORE_ABS_PATH_MAX-1)
	rel := strings.Repeat("b", xenstore.XENSTORE_REL_PATH_MAX)

	// At the limits: accepted locally (the daemon decides whether the node exists).
	_, err := c.Read(ctx, abs)
	assert.ErrorIs(t, err, xen.ENOENT)
	_, err = c.Read(ctx, rel)
	assert.ErrorIs(t, err, xen.ENOENT)
	require.NoError(t, c.Write(ctx, "v", make([]byte, xenstore.XENSTORE_PAYLOAD_MAX-len("v\x00"))))

	// Past them: refused before anything is sent.
	sent := srv.Count(xenstore.XS_READ) + srv.Count(xenstore.XS_WRITE)
	for _, p := range []string{abs + "a", rel + "b", "", "a\x00b"} {
		_, err = c.Read(ctx, p)
		assert.ErrorIs(t, err, xen.EINVAL, "%.20q", p)
	}
	err = c.Write(ctx, "v", make([]byte, xenstore.XENSTORE_PAYLOAD_MAX-len("v\x00")+1))
	assert.ErrorIs(t, err, xen.E2BIG)
	_, err = c.Watch(ctx, rel+"c")
	assert.ErrorIs(t, err, xen.EINVAL)
	assert.Equal(t, sent, srv.Count(xenstore.XS_READ)+srv.Count(xenstore.XS_WRITE))
	assert.Zero(t, srv.Dropped())
	assert.NoError(t, c.Err())
}

func TestConcurrentRequests(t *testing.T) {
	transports(t, func(t *testing.T, srv *xenstoretest.Server, c *xenstore.Client) {
		ctx := context.Background()
		const goroutines, rounds = 32, 20
		var wg sync.WaitGroup
		errs := make(chan error, goroutines)
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range rounds {
					p := fmt.Sprintf("conc/%d/%d", g, i)
					v := fmt.Sprintf("%d-%d-%s", g, i, strings.Repeat("z", g*13))
					if err := xenstore.WriteString(ctx, c, p, v); err != nil {
						errs <- err
						return
					}
					got, err := xenstore.ReadString(ctx, c, p)
					if err != nil || got != v {
						errs <- fmt.Errorf("%s: got %q, %v", p, got, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		ids, err := c.Directory(ctx, "conc")
		require.NoError(t, err)
		assert.Len(t, ids, goroutines)
	})
}

func TestContextCancelled(t *testing.T) {
	srv := xenstoretest.NewServer(testDomID, "guest")
	c := srv.NewClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Read(ctx, "name")
	assert.ErrorIs(t, err, context.Canceled)
	// A later request still works: nothing was left half-sent.
	v, err := xenstore.ReadString(context.Background(), c, "name")
	require.NoError(t, err)
	assert.Equal(t, "guest", v)
}

func TestClose(t *testing.T) {
	transports(t, func(t *testing.T, srv *xenstoretest.Server, c *xenstore.Client) {
		ctx := context.Background()
		w, err := c.Watch(ctx, "device")
		require.NoError(t, err)
		<-w.Events()
		require.NoError(t, c.Close())
		require.NoError(t, c.Close())
		_, err = c.Read(ctx, "name")
		assert.ErrorIs(t, err, xen.ErrClosed)
		_, open := <-w.Events()
		assert.False(t, open)
		assert.ErrorIs(t, w.Err(), xen.ErrClosed)
		assert.ErrorIs(t, c.Err(), xen.ErrClosed)
	})
}

func TestServerGone(t *testing.T) {
	// The daemon end goes away: pending and later requests fail with ErrClosed, not a hang.
	p := newRawPipe(t)
	done := make(chan error, 1)
	go func() {
		_, err := p.c.Read(context.Background(), "x")
		done <- err
	}()
	p.readRequest(t)
	require.NoError(t, p.conn.Close())
	assert.ErrorIs(t, <-done, xen.ErrClosed)
	_, err := p.c.Read(context.Background(), "x")
	assert.ErrorIs(t, err, xen.ErrClosed)
	assert.NotErrorIs(t, err, xen.ErrBroken)
}
