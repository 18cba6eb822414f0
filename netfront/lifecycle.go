// The life of a connection: its states, the one table of its transitions, and how it ends.

package netfront

import (
	"context"
	"fmt"
	"time"

	"github.com/tamaxen/tamaxen/xen/xenbus"
)

// connState is where a connection is in its life. It changes only through conn.to (start and
// end use it), along connTransitions.
type connState uint8

const (
	// connStarting: connect builds it, negotiating, granting pages and publishing them. Nobody
	// else has it yet, and no goroutine of it runs.
	connStarting connState = iota
	// connRunning: its queues' goroutines run and senders may hold it; frames pass.
	connRunning
	// connClosed: ended with the closing handshake (the backend closed, Device.Close, or a
	// start that failed half-way), everything given back.
	connClosed
	// connDropped: ended without a word to anyone, everything given back: it belonged to the
	// domain before a suspension, whose backend, channels and grant table are gone.
	connDropped
	// connAbandoned: an attempt given up before it ran, what it may have published taken
	// back, everything given back.
	connAbandoned
)

var connStateNames = [...]string{
	connStarting:  "starting",
	connRunning:   "running",
	connClosed:    "closed",
	connDropped:   "dropped",
	connAbandoned: "abandoned",
}

func (s connState) String() string {
	if int(s) < len(connStateNames) && connStateNames[s] != "" {
		return connStateNames[s]
	}
	return fmt.Sprintf("connState(%d)", s)
}

// connTransitions is every change of state a connection may make, with what takes it there and
// what the change does; any other is a bug, and refused. The last three are the only ways a
// connection ends (conn.end), and each gives back every page, grant and channel (release).
//
//	from      to         when                                  what it does
//	starting  running    the backend connected (connect)       post the RX buffers, start the queues' goroutines
//	starting  abandoned  the attempt failed (connect)          take back what was published (takeBack), release
//	running   closed     the backend closes; Device.Close;     stop the queues, the closing handshake
//	                     RX buffers that cannot be posted      (bounded by closeTimeout), release
//	running   dropped    the domain resumed in a new domain    stop the queues, release; nothing said to anyone
var connTransitions = []struct{ from, to connState }{
	{connStarting, connRunning},
	{connStarting, connAbandoned},
	{connRunning, connClosed},
	{connRunning, connDropped},
}

// may reports whether a connection in state s may move to next.
func (s connState) may(next connState) bool {
	for _, t := range connTransitions {
		if t.from == s && t.to == next {
			return true
		}
	}
	return false
}

// to moves the connection to state next, if connTransitions allows it.
func (c *conn) to(next connState) error {
	if !c.state.may(next) {
		return fmt.Errorf("netfront: a %v connection cannot become %v", c.state, next)
	}
	c.state = next
	return nil
}

// end ends the connection in state final (connClosed, connDropped or connAbandoned), doing
// what connTransitions says the move takes. The error is the closing handshake's, or a move
// the table refuses.
func (c *conn) end(ctx context.Context, final connState) error {
	from := c.state
	if err := c.to(final); err != nil {
		return err
	}
	if from == connRunning {
		c.stopQueues()
	}
	var err error
	switch final {
	case connAbandoned:
		c.takeBack(ctx)
	case connClosed:
		// Bounded: a backend that never answers must not keep Close from returning.
		cctx, cancel := context.WithTimeout(ctx, closeTimeout)
		err = c.dev.Close(cctx, c.be)
		cancel()
	}
	c.be.Close()
	c.release()
	return err
}

// closeTimeout bounds the closing handshake: how long Close waits for a backend that does not
// answer.
const closeTimeout = 10 * time.Second

// stopQueues tells senders the connection is going (done) and joins the queues' goroutines.
func (c *conn) stopQueues() {
	close(c.done)
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
}

// takeBack takes back what a connection attempt that failed may have told the backend, before
// its grants are revoked: a backend that comes late must not find the frontend Connected with
// ring references that no longer grant anything (or, once reused, grant something else), nor
// the references themselves (unpublish). With time left it closes both sides as Close does;
// without, it only says Closed. An attempt that Close interrupted (a reconnection) closes both
// sides too, with Close's own bound: the backend may already map the new rings, and Close
// returns once it has let go of them, as it does for a connection that was made.
func (c *conn) takeBack(ctx context.Context) {
	closing := isClosed(c.d.closing)
	bound := time.Second
	if closing {
		bound = closeTimeout
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bound)
	defer cancel()
	own, err := c.dev.State(cctx)
	if err != nil || own == xenbus.XenbusStateInitialising || own == xenbus.XenbusStateClosed {
		return // nothing published, or already closed
	}
	if err := c.unpublish(cctx); err != nil {
		c.d.logf("netfront: taking back %s's ring references: %v", c.dev.Path, err)
	}
	if ctx.Err() == nil || closing {
		if err := c.dev.Close(cctx, c.be); err == nil {
			return
		}
	}
	// A handshake that ran out of time spent cctx: saying Closed gets a bound of its own.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer scancel()
	_ = c.dev.SwitchState(sctx, xenbus.XenbusStateClosed)
}

// release closes every channel and gives back every page of the pool (pagePool.release: a
// page the backend still maps is freed once it unmaps it, never before). After a drop, the
// channels are stale (evtchn leaves Xen alone when closing them) and the grant table a new one.
func (c *conn) release() {
	for _, q := range c.queues {
		// A sender that took this connection before it went away may still be filling a TX
		// page: wait for it, under the TX lock, before the pages go. Senders that take the
		// lock after this find the connection done and leave it alone.
		q.tx.mu.Lock()
		defer q.tx.mu.Unlock()
		for _, ch := range q.chans {
			_ = ch.Close()
		}
		q.chans = nil
		q.stats.tx.inFlight = 0 // under q.tx.mu, the counters' txMu
		q.stats.rxPosted.Store(0)
	}
	if inUse := c.pool.release(c.d.logf); inUse > 0 {
		c.d.logf("netfront: %d pages still mapped by the backend: freed once it unmaps them", inUse)
	}
}
