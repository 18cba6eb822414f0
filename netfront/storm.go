// Pacing the event-serving goroutines when a backend notifies without producing work.

package netfront

import (
	"context"
	"time"
)

// A backend can notify in a tight loop with nothing on the rings (XSA-332). Each event wakes a
// queue's goroutine, which finds no work, unmasks the port, and is woken again at once: the
// guest's only vCPU would spend itself on an empty ring. Like Linux's lateeoi, a wakeup that
// found no new response is spurious, and after stormFree of them in a row the goroutine pauses
// before it takes the next event, for stormMinDelay, doubling with each further spurious
// wakeup up to stormMaxDelay. The port stays masked meanwhile (the dispatcher masked it when it
// delivered the event), so further notifications cost the guest nothing: Xen only latches them.
// Any wakeup that finds work ends the pacing, and the guest queueing a frame to send ends a
// pause early (kick): it expects completions and often a reply, and the guest's own sending is
// no storm, so a storming backend still costs at most one wakeup per frame the guest sends
// beyond the paced ones.
//
// Linux pauses up to a second; the cap here is lower, so that real traffic from a backend that
// also storms is late by at most stormMaxDelay: the guest then serves a storming port at most
// 1/stormMaxDelay times a second, each time a look at two ring indices.
const (
	stormFree     = 1 // the wakeup for an event latched while the port was masked finds no work
	stormMinDelay = time.Millisecond
	stormMaxDelay = 128 * time.Millisecond
)

// stormGuard paces one goroutine that serves an event channel. Only that goroutine uses it.
type stormGuard struct {
	stats    *counters
	spurious int         // consecutive wakeups that found no work
	timer    *time.Timer // made at the first pause, reused: pacing does not allocate

	// wake ends a pause early (capacity 1; kick). A token left from a kick while no pause
	// was on ends the next one at once: one wakeup more, never a lost reply.
	wake chan struct{}

	// pause waits d unless ctx ends or wake has a token first, and reports whether ctx is
	// still live. nil means a real timer; tests put a virtual clock here.
	pause func(ctx context.Context, wake <-chan struct{}, d time.Duration) bool
}

// kick ends the guarded goroutine's pause, if any. It does not block or allocate.
func (g *stormGuard) kick() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// stormDelay is the pause after n spurious wakeups in a row (n > stormFree).
func stormDelay(n int) time.Duration {
	shift := n - stormFree - 1
	if shift >= 16 {
		return stormMaxDelay
	}
	return min(stormMinDelay<<shift, stormMaxDelay)
}

// after records whether a wakeup found work and pauses if the backend is storming. It reports
// false if ctx ended during the pause.
func (g *stormGuard) after(ctx context.Context, work bool) bool {
	if work {
		g.spurious = 0
		return true
	}
	g.stats.spurious.Add(1)
	if g.spurious++; g.spurious <= stormFree {
		return true
	}
	g.stats.throttled.Add(1)
	d := stormDelay(g.spurious)
	if g.pause != nil {
		return g.pause(ctx, g.wake, d)
	}
	if g.timer == nil {
		g.timer = time.NewTimer(d)
	} else {
		g.timer.Reset(d)
	}
	select {
	case <-g.timer.C:
		return true
	case <-g.wake:
		g.timer.Stop()
		return true
	case <-ctx.Done():
		g.timer.Stop()
		return false
	}
}
