package control

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen/sim/xenstoretest"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

const home = "/local/domain/7/"

func setup(t *testing.T) (guest, toolstack *xenstore.Client, srv *xenstoretest.Server) {
	srv = xenstoretest.NewServer(7, "guest")
	return srv.NewClient(t), srv.NewClient(t), srv
}

func TestAdvertise(t *testing.T) {
	ctx := context.Background()
	guest, ts, _ := setup(t)
	require.NoError(t, Advertise(ctx, guest, Poweroff, Reboot))
	for _, f := range []string{"feature-poweroff", "feature-reboot"} {
		v, err := ts.Read(ctx, home+"control/"+f)
		require.NoError(t, err)
		assert.Equal(t, "1", string(v))
	}
}

func TestWatchDeliversAndAcknowledges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	guest, ts, _ := setup(t)
	reqs, err := Watch(ctx, guest, Poweroff, Reboot)
	require.NoError(t, err)

	tests := []struct {
		written string
		want    Request
	}{
		{"reboot", Reboot},
		{"poweroff", Poweroff},
	}
	for _, tt := range tests {
		require.NoError(t, ts.Write(ctx, home+ShutdownPath, []byte(tt.written)))
		select {
		case r := <-reqs:
			assert.Equal(t, tt.want, r)
		case <-time.After(10 * time.Second):
			t.Fatal("no request delivered")
		}
		// Acknowledged: the node was cleared in the transaction that read it.
		require.Eventually(t, func() bool {
			v, err := ts.Read(ctx, home+ShutdownPath)
			return err == nil && len(v) == 0
		}, 10*time.Second, time.Millisecond)
	}
}

func TestUnknownRequestIsNotAcknowledged(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	guest, ts, _ := setup(t)
	reqs, err := Watch(ctx, guest, Poweroff)
	require.NoError(t, err)
	require.NoError(t, ts.Write(ctx, home+ShutdownPath, []byte("suspend")))
	// A known request written afterwards still arrives, and the unknown one stayed unanswered
	// until it was overwritten.
	require.NoError(t, ts.Write(ctx, home+ShutdownPath, []byte("poweroff")))
	assert.Equal(t, Poweroff, <-reqs)
}

func TestWatchEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	guest, _, srv := setup(t)
	reqs, err := Watch(ctx, guest, Poweroff)
	require.NoError(t, err)
	cancel()
	for range reqs {
	}
	require.Eventually(t, func() bool { return srv.Watches() == 0 }, 10*time.Second, time.Millisecond)
}
