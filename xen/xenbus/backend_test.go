// A netback-like backend for the tests, driven by the frontend's state in the fake xenstored.

package xenbus_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/sim/xenstoretest"
	"github.com/tamaxen/tamaxen/xen/xenbus"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

const (
	guest   = 7
	feDir   = "/local/domain/7/device/vif/0"
	beDir   = "/local/domain/0/backend/vif/7/0"
	feState = feDir + "/state"
	beState = beDir + "/state"
)

// toolstack creates the device as xl does: both directories, cross-linked, both Initialising.
func toolstack(t *testing.T, srv *xenstoretest.Server) {
	t.Helper()
	for _, kv := range [][2]string{
		{feDir + "/backend", beDir}, {feDir + "/backend-id", "0"}, {feState, "1"},
		{feDir + "/mac", "00:16:3e:00:00:07"},
		{beDir + "/frontend", feDir}, {beDir + "/frontend-id", "7"}, {beState, "1"},
	} {
		require.NoError(t, srv.Write(kv[0], kv[1]))
	}
}

// backendMode selects how the fake backend misbehaves.
type backendMode int

const (
	polite       backendMode = iota // InitWait, Connected, Closing, Closed
	skipsClosing                    // jumps from Connected straight to Closed
	refuses                         // answers the frontend's Connected with Closed
)

// fakeBackend follows the frontend's state through its own connection, as dom0's netback
// does, and answers by writing the backend's state.
type fakeBackend struct {
	srv    *xenstoretest.Server
	xs     *xenstore.Client
	mode   backendMode
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	seen []xenbus.State // frontend states it reacted to
}

func startBackend(t *testing.T, srv *xenstoretest.Server, mode backendMode) *fakeBackend {
	t.Helper()
	b := &fakeBackend{srv: srv, xs: srv.NewClient(t), mode: mode}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	w, err := b.xs.Watch(ctx, feState)
	require.NoError(t, err)
	// netback reaches InitWait when it probes the device, before the frontend does anything.
	b.set(xenbus.XenbusStateInitWait)
	b.wg.Add(1)
	go b.run(ctx, w)
	t.Cleanup(func() {
		cancel()
		_ = b.xs.Unwatch(context.Background(), w)
		b.wg.Wait()
	})
	return b
}

func (b *fakeBackend) set(s xenbus.State) {
	_ = b.srv.Write(beState, strconv.Itoa(int(s)))
}

func (b *fakeBackend) own() xenbus.State {
	v, _ := b.srv.Read(beState)
	s, _ := xenbus.ParseState([]byte(v))
	return s
}

func (b *fakeBackend) run(ctx context.Context, w *xenstore.Watch) {
	defer b.wg.Done()
	for range w.Events() {
		v, err := b.xs.Read(ctx, feState)
		if errors.Is(err, xen.ENOENT) || ctx.Err() != nil {
			continue
		}
		fe, err := xenbus.ParseState(v)
		if err != nil {
			continue
		}
		b.mu.Lock()
		b.seen = append(b.seen, fe)
		b.mu.Unlock()
		switch fe {
		case xenbus.XenbusStateInitialising:
			if b.own() == xenbus.XenbusStateClosed {
				b.set(xenbus.XenbusStateInitWait) // reconnect
			}
		case xenbus.XenbusStateConnected:
			if b.own() != xenbus.XenbusStateInitWait {
				continue
			}
			if b.mode == refuses {
				b.set(xenbus.XenbusStateClosed)
				continue
			}
			if _, ok := b.srv.Read(feDir + "/tx-ring-ref"); ok {
				b.set(xenbus.XenbusStateConnected)
			}
		case xenbus.XenbusStateClosing:
			if b.mode == skipsClosing {
				b.set(xenbus.XenbusStateClosed)
			} else {
				b.set(xenbus.XenbusStateClosing)
			}
		case xenbus.XenbusStateClosed:
			b.set(xenbus.XenbusStateClosed)
		}
	}
}

func (b *fakeBackend) frontendStates() []xenbus.State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]xenbus.State(nil), b.seen...)
}
