package netfront

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// virtualClock replaces a stormGuard's timer: a pause moves the clock on at once.
type virtualClock struct {
	now    atomic.Int64
	mu     sync.Mutex
	pauses []time.Duration
}

func (c *virtualClock) pause(ctx context.Context, _ <-chan struct{}, d time.Duration) bool {
	c.now.Add(int64(d))
	c.mu.Lock()
	c.pauses = append(c.pauses, d)
	c.mu.Unlock()
	return ctx.Err() == nil
}

func (c *virtualClock) last() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pauses) == 0 {
		return 0
	}
	return c.pauses[len(c.pauses)-1]
}

// stormBound is the most wakeups a goroutine may take in span of a storm: the free ones, the
// doubling pauses up to the cap, then one per stormMaxDelay (and one in flight).
func stormBound(span time.Duration) int64 {
	n, spent := int64(stormFree+1), time.Duration(0)
	for k := stormFree + 1; spent < span; k++ {
		spent += stormDelay(k)
		n++
	}
	return n + 1
}

// A backend notifying in a tight loop with nothing on the rings: the goroutine serving the
// port takes a bounded number of wakeups per (virtual) second, each counted as spurious, and
// its pace goes back to normal as soon as a wakeup finds work.
func TestStormThrottled(t *testing.T) {
	const span = 10 * time.Second
	for _, tc := range []string{"rx shared", "rx split", "tx split"} {
		t.Run(tc, func(t *testing.T) {
			h := newQueueRig(t, allFeatures, 32, 16)
			var clk virtualClock
			var ch *fakeChan
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			switch tc {
			case "tx split":
				ch = h.q.tx.ch.(*fakeChan)
				h.q.tx.storm.pause = clk.pause
				go func() { defer wg.Done(); h.q.tx.run(ctx) }()
			default:
				ch = h.q.rx.ch.(*fakeChan)
				h.q.rx.storm.pause = clk.pause
				go func() { defer wg.Done(); h.q.rx.run(ctx, tc == "rx shared") }()
			}
			defer func() { cancel(); wg.Wait() }()

			// The storm: as many notifications as the port takes, until the guest's clock
			// has moved span on, or the guest took far more wakeups than it may.
			limit := 20 * stormBound(span)
			sends := 0
			for clk.now.Load() < int64(span) && ch.wakeups.Load() < limit {
				select {
				case ch.ev <- struct{}{}:
					sends++
				default:
				}
			}
			// The storm is over: the goroutine takes what is left and waits.
			require.Eventually(t, func() bool {
				return len(ch.ev) == 0 && h.q.stats.snapshot().Spurious == uint64(ch.wakeups.Load())
			}, 10*time.Second, time.Millisecond)
			wakeups := ch.wakeups.Load()
			t.Logf("%d notifications taken, %d wakeups, virtual time %v", sends, wakeups, time.Duration(clk.now.Load()))
			require.LessOrEqual(t, wakeups, stormBound(span)+1, "wakeups in %v of storm", span)
			s := h.q.stats.snapshot()
			assert.Equal(t, s.Spurious-stormFree, s.Throttled)
			assert.Equal(t, stormMaxDelay, clk.last(), "paced at the cap")

			// Work: the next wakeup finds it, and the pace starts again from the bottom.
			switch tc {
			case "tx split":
				require.NoError(t, h.d.Send(ctx, pattern(60, 0), TxMeta{}))
				slot := h.txSlots()[0]
				h.txRespond(decodeTx(slot).ID, 0)
			default:
				h.deliverFrame(pattern(60, 1), 0, nil)
			}
			clk.mu.Lock()
			n := len(clk.pauses)
			clk.mu.Unlock()
			// One wakeup with work, one free spurious one, then the first pause.
			for range stormFree + 2 {
				select {
				case ch.ev <- struct{}{}:
				case <-time.After(10 * time.Second):
					t.Fatal("the goroutine stopped taking events")
				}
			}
			require.Eventually(t, func() bool {
				clk.mu.Lock()
				defer clk.mu.Unlock()
				return len(clk.pauses) > n
			}, 10*time.Second, time.Millisecond)
			clk.mu.Lock()
			assert.Equal(t, []time.Duration{stormMinDelay}, clk.pauses[n:], "pauses after work")
			clk.mu.Unlock()
			if tc != "tx split" {
				assert.Len(t, h.frames, 1, "the frame was delivered")
			}
		})
	}
}

// The guest sending a frame ends a pause: completions and often a reply follow, and the
// guest's own sending is no storm.
func TestStormPauseEndsOnSend(t *testing.T) {
	h := newQueueRig(t, allFeatures, 32, 16)
	paused := make(chan time.Duration, 16)
	h.q.rx.storm.pause = func(ctx context.Context, wake <-chan struct{}, d time.Duration) bool {
		paused <- d
		select {
		case <-wake:
			return true
		case <-ctx.Done():
			return false
		}
	}
	ch := h.q.rx.ch.(*fakeChan)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.q.rx.run(ctx, true) }()
	defer func() { cancel(); <-done }()

	timeout := time.After(10 * time.Second)
	for storming := true; storming; {
		select {
		case ch.ev <- struct{}{}:
		case <-paused:
			storming = false
		case <-timeout:
			t.Fatal("no pause")
		}
	}
	select {
	case ch.ev <- struct{}{}: // the storm goes on while the goroutine pauses
	default: // an event is pending already
	}
	w := ch.wakeups.Load()
	require.NoError(t, h.d.Send(ctx, pattern(60, 0), TxMeta{}))
	select {
	case <-paused: // woken by the send, it took the pending event and paused again
	case <-timeout:
		t.Fatal("the send did not end the pause")
	}
	assert.Equal(t, w+1, ch.wakeups.Load())
}
