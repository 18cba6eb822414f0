// Fuzz target: the whole handshake, Connect then Close, against a backend that plays a script
// of states (any value, or its state node removed) in answer to the frontend's moves.

package xenbus_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tamaxen/tamaxen/xen/sim/xenstoretest"
	"github.com/tamaxen/tamaxen/xen/xenbus"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// scriptedBackend plays its script one move per change of either side's state node (its own
// moves included, so the whole script is played whatever the frontend does), interleaved with
// the frontend as the goroutines run. Once the script is played it behaves as netback does, so
// a handshake can always end.
type scriptedBackend struct {
	srv    *xenstoretest.Server
	mu     sync.Mutex
	script []byte
}

// move plays one scripted move: a state value (0..7, 8 for garbage) or, for 9, removing the
// backend's state node. Every move changes the node, which fires the watch for the next one.
func (b *scriptedBackend) move(m byte) {
	switch m %= 10; {
	case m == 9:
		if _, ok := b.srv.Read(beState); ok {
			_ = b.srv.Rm(beState)
			return
		}
		// Already gone: garbage instead, so that the move is a change and the script goes on.
		_ = b.srv.Write(beState, "banana")
	case m == 8:
		_ = b.srv.Write(beState, "banana")
	default:
		_ = b.srv.Write(beState, strconv.Itoa(int(m)))
	}
}

// polite is netback's answer to the frontend's state fe.
func (b *scriptedBackend) polite(fe xenbus.State) {
	switch fe {
	case xenbus.XenbusStateInitialising:
		b.move(byte(xenbus.XenbusStateInitWait))
	case xenbus.XenbusStateConnected:
		b.move(byte(xenbus.XenbusStateConnected))
	case xenbus.XenbusStateClosing, xenbus.XenbusStateClosed:
		b.move(byte(fe))
	}
}

// changed reacts to a change of the frontend's state (front) or of its own.
func (b *scriptedBackend) changed(front bool) {
	v, _ := b.srv.Read(feState)
	fe, _ := xenbus.ParseState([]byte(v))
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.script) > 0 {
		b.move(b.script[0])
		b.script = b.script[1:]
		if len(b.script) > 0 {
			return
		}
	} else if !front {
		return
	}
	b.polite(fe)
}

// FuzzHandshake runs Connect and then Close against a scripted backend. Whatever the script,
// Connect must end by itself (the script ends in netback's behaviour), connected or with
// ErrBackendClosed or the daemon's error, and Close must end too; afterwards no transaction is
// left open on the daemon and no watch is left registered.
func FuzzHandshake(f *testing.F) {
	f.Add([]byte{2, 4})          // polite
	f.Add([]byte{2, 6})          // refuses: Closed in answer to Connected
	f.Add([]byte{5, 6, 2, 4})    // Closing while the frontend waits for InitWait, then back
	f.Add([]byte{9, 2, 4})       // the state node vanishes, then comes back
	f.Add([]byte{8, 2, 5, 6, 4}) // garbage, then closes after the frontend published
	f.Add([]byte{4, 4, 4})       // Connected before anything was published
	f.Fuzz(runHandshakeOnce)
}

func runHandshakeOnce(t *testing.T, script []byte) {
	{
		if len(script) > 16 {
			script = script[:16]
		}
		srv := xenstoretest.NewServer(guest, "guest")
		toolstack(t, srv)
		watches := srv.Watches()
		b := &scriptedBackend{srv: srv, script: append([]byte(nil), script...)}
		bxs := srv.NewClient(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		fw, err := bxs.Watch(ctx, feState)
		if err != nil {
			t.Fatal(err)
		}
		bw, err := bxs.Watch(ctx, beState)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			fe, be := fw.Events(), bw.Events()
			for fe != nil || be != nil {
				select {
				case _, ok := <-fe:
					if !ok {
						fe = nil
						continue
					}
					b.changed(true)
				case _, ok := <-be:
					if !ok {
						be = nil
						continue
					}
					b.changed(false)
				}
			}
		}()

		xs := srv.NewClient(t)
		d, err := xenbus.Open(ctx, xs, "vif", "0")
		if err != nil {
			t.Fatal(err)
		}
		be, err := d.WatchBackend(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = d.Connect(ctx, be, publishRings(ctx))
		if ctx.Err() != nil {
			t.Fatalf("Connect hung with script %v: %v (backend %v)", script, err, be.Current())
		}
		if err != nil && !errors.Is(err, xenbus.ErrBackendClosed) {
			var xe *xenstore.Error
			if !errors.As(err, &xe) {
				t.Fatalf("Connect: %v", err)
			}
		}
		cerr := d.Close(ctx, be)
		if ctx.Err() != nil {
			t.Fatalf("Close hung with script %v: %v (backend %v)", script, cerr, be.Current())
		}
		_ = be.Close()
		_ = bxs.Unwatch(context.Background(), fw)
		_ = bxs.Unwatch(context.Background(), bw)
		wg.Wait()
		if n := srv.Transactions(); n != 0 {
			t.Fatalf("%d transactions left open", n)
		}
		if n := srv.Watches(); n != watches {
			t.Fatalf("%d watches registered, %d before", n, watches)
		}
	}
}
