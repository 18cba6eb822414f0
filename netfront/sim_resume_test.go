// Suspend and resume on the simulated Xen: xl save and xl restore (machine.Restore), with the
// vif attached or detached, and Device.Resume before or after the old backend is seen gone.

package netfront

import (
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/evtchn"
	"github.com/tamaxen/tamaxen/xen/sim"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
	"github.com/tamaxen/tamaxen/xen/xenbus"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

// Resume after xl restore (machine.Restore): Xen forgot every port and grant of the old
// domain, the old backend vanished without a word, and a new one waits in InitWait on a vif
// the toolstack wrote afresh. Device.Resume drops the old connection without a closing
// handshake and without touching Xen with its old ports, which by then name another device's
// channels, and connects to the new backend; traffic passes again and nothing leaks.
func TestSimResumeInNewDomain(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.echo()
	base := r.baseline(t)
	dev := r.openWatched(t)
	links := dev.links
	perConn := r.guest.Grants.InUse() - base.grants
	ctx := hangCtx(t)
	sendEchoes(t, dev, 100)

	for cycle := range 2 {
		var oldPorts []xen.Port
		r.xs.Walk(frontPath(), func(path, value string, _ []xenstore.Perm) {
			if strings.Contains(path, "event-channel") {
				p, err := strconv.Atoi(value)
				require.NoError(t, err)
				oldPorts = append(oldPorts, xen.Port(p))
			}
		})
		require.Len(t, oldPorts, 4, "two queues, split channels")

		require.NoError(t, r.m.Restore(ctx))
		r.be = r.m.Backend
		r.echo()
		// Another device, served by another driver domain, binds channels before the vif is
		// resumed: they get the lowest free ports, up to the numbers the old connection's
		// channels had.
		const otherBackend = 3
		others := map[xen.Port]*evtchn.Channel{}
		for top := slices.Max(oldPorts); ; {
			ch, err := r.guest.Events.AllocUnbound(otherBackend)
			require.NoError(t, err)
			others[ch.Port()] = ch
			if ch.Port() >= top {
				break
			}
		}
		for _, p := range oldPorts {
			require.Contains(t, others, p)
		}

		dev.Resume()
		require.False(t, <-links, "link down on resume")
		require.True(t, <-links, "link up with the new backend")
		require.EqualValues(t, cycle+1, dev.Reconnects())
		require.Equal(t, xenbus.XenbusStateConnected, r.be.State())
		for p, ch := range others {
			st, err := r.guest.Domain.PortStatus(p)
			require.NoError(t, err)
			require.Equal(t, sim.PortStatus{Status: sim.EVTCHNSTAT_unbound, Remote: otherBackend}, st,
				"port %d, another device's, was touched", p)
			require.NoError(t, ch.Close())
		}
		require.Equal(t, base.grants+perConn, r.guest.Grants.InUse(), "grants after resume %d", cycle)
		sendEchoes(t, dev, 100)
	}
	s := sumStats(dev.Stats())
	assert.Zero(t, s.Violations+s.RxErrors+s.TxErrors)
	require.NoError(t, dev.Err())
	require.NoError(t, dev.Close())
	r.checkBaseline(t, base)
	assert.Empty(t, dev.logs(), "every reconnection should succeed at once")
}

// A Resume while the device is between connections (the backend away) is harmless: the next
// connection is made afresh and kept.
func TestSimResumeWhileDisconnected(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.echo()
	base := r.baseline(t)
	links := make(chan bool, 16)
	dev := r.open(t, Config{Link: func(up bool) { links <- up }})
	r.be.Disconnect()
	require.False(t, <-links)
	dev.Resume()
	require.True(t, <-links, "reconnects once the backend is back")
	select {
	case up := <-links:
		t.Fatalf("the connection made after Resume was dropped (link %v)", up)
	case <-time.After(100 * time.Millisecond):
	}
	require.NoError(t, dev.Send(hangCtx(t), udp4(100, 1), TxMeta{}))
	require.NoError(t, dev.Close())
	r.checkBaseline(t, base)
}

// A Resume that finds the connection made in the current domain (its event channels are not
// stale) keeps it, and the device goes on following the backend: a close after it is met
// with a reconnection as before.
func TestSimResumeKeepsCurrentConnection(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.echo()
	base := r.baseline(t)
	dev := r.openWatched(t)
	dev.Resume()
	select {
	case up := <-dev.links:
		t.Fatalf("a connection of the current domain was dropped on Resume (link %v)", up)
	case <-time.After(100 * time.Millisecond):
	}
	sendEchoes(t, dev, 10)
	r.be.Disconnect()
	require.False(t, nextLink(t, dev.links), "the backend's close is still seen")
	require.True(t, nextLink(t, dev.links))
	sendEchoes(t, dev, 10)
	assert.EqualValues(t, 1, dev.Reconnects())
	require.NoError(t, dev.Close())
	r.checkBaseline(t, base)
}

// xl save and xl restore while the vif is detached (the device waiting for it to come back):
// the reconnection attempt in progress loses its XenStore requests and watches to the
// suspension, yet the device connects to the vif the restored domain has, once resumed, and
// nothing leaks.
func TestSimRestoreWhileDetached(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.echo()
	base := r.baseline(t)
	dev := r.openWatched(t)
	ctx := hangCtx(t)

	// xl network-detach: the backend closes, then the toolstack removes the vif.
	r.be.Disconnect()
	require.False(t, <-dev.links)
	require.NoError(t, r.m.Backend.Close())
	r.m.Backend = nil
	require.NoError(t, r.xs.Rm(frontPath()))
	require.NoError(t, r.xs.Rm(backPath()))
	time.Sleep(50 * time.Millisecond) // the device is looking for its vif again

	require.NoError(t, r.m.Restore(ctx))
	r.be = r.m.Backend
	r.echo()
	dev.Resume()
	require.True(t, <-dev.links, "connected to the restored domain's vif")
	// The connection was made in the new domain, even if the attempt began before: kept.
	select {
	case up := <-dev.links:
		t.Fatalf("the new domain's connection was dropped (link %v)", up)
	case <-time.After(100 * time.Millisecond):
	}
	require.Equal(t, xenbus.XenbusStateConnected, r.be.State())
	sendEchoes(t, dev, 10)
	require.NoError(t, dev.Err())
	require.NoError(t, dev.Close())
	r.checkBaseline(t, base)
}

// sendEchoes sends n frames through an echoing backend and waits for them to come back.
func sendEchoes(t *testing.T, dev *watchedDev, n int) {
	t.Helper()
	from := dev.received.Load()
	for i := range n {
		require.NoError(t, dev.Send(hangCtx(t), udp4(60+i, uint16(i)), TxMeta{}))
	}
	require.Eventually(t, func() bool { return dev.received.Load() >= from+int64(n) }, hangDeadline, tick)
}

// On Xen the restored domain has a new domid, so the backend directory the device watches is
// the old domain's, and XenStore's resume fires the watch, which finds it gone, possibly before
// anyone calls Resume. A connection made before the suspension (its channels are stale) is then
// dropped without a word as on Resume: no closing handshake, which would go to the frontend
// directory of the new domain's vif. Here the old directory vanishing is the vif removed after
// the restore, and added again.
func TestSimRestoreBackendGoneBeforeResume(t *testing.T) {
	r := newRig(t, rigOpts{})
	tap := r.tap
	r.echo()
	base := r.baseline(t)
	dev := r.openWatched(t)
	sendEchoes(t, dev, 10)
	require.NoError(t, r.m.Restore(hangCtx(t)))

	var handshake atomic.Pointer[string]
	tap.setHook(func(h xenstore.Header, payload []byte) {
		p, v, _ := strings.Cut(string(payload), "\x00")
		if h.Type == xenstore.XS_WRITE && strings.HasSuffix(p, "device/vif/0/state") && (v == "5" || v == "6") {
			handshake.CompareAndSwap(nil, &p)
		}
	})
	require.NoError(t, r.m.Backend.Close())
	r.m.Backend = nil
	require.NoError(t, r.xs.Rm(frontPath()))
	require.NoError(t, r.xs.Rm(backPath()))
	require.False(t, <-dev.links, "the stale connection dropped")

	require.NoError(t, r.xs.AddVif(guestID, 0, "00:16:3e:5a:11:01", 0))
	be, err := netback.New(r.dom0, r.xs, guestID, 0, netback.DefaultConfig())
	require.NoError(t, err)
	r.m.Backend, r.be = be, be
	r.echo()
	require.True(t, <-dev.links, "connected to the new vif without Resume")
	tap.setHook(nil)
	if p := handshake.Load(); p != nil {
		t.Fatalf("the stale connection closed with a handshake (%s)", *p)
	}
	sendEchoes(t, dev, 10)
	assert.EqualValues(t, 1, dev.Reconnects())
	require.NoError(t, dev.Err())
	require.NoError(t, dev.Close())
	r.checkBaseline(t, base)
	assert.Empty(t, dev.logs())
}
