// Transactions: XS_TRANSACTION_START/END and the retry loop for EAGAIN conflicts.

package xenstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tamaxen/tamaxen/xen"
)

// MaxUpdateAttempts bounds how often Update runs a transaction that keeps conflicting. The
// daemon answers EAGAIN at commit when another connection changed what the transaction touched;
// with backoff between attempts, contention among a few dozen writers resolves well within the
// bound, and the bound keeps a livelock visible.
const MaxUpdateAttempts = 32

// Tx is an open transaction. Its operations see a snapshot of the store and take effect
// together at Commit, or not at all. A Tx must be ended with Commit or Abort: the daemon holds
// its state, and counts it against the domain's quota, until then.
type Tx struct {
	c     *Client
	id    uint32
	ended atomic.Bool
}

var errTxEnded = errors.New("xenstore: transaction already ended")

// TransactionStart opens a transaction (XS_TRANSACTION_START).
func (c *Client) TransactionStart(ctx context.Context) (*Tx, error) {
	// The request payload is the empty string with its terminator.
	r, err := c.roundTrip(ctx, XS_TRANSACTION_START, 0, "", []byte{0})
	if err != nil {
		return nil, err
	}
	return &Tx{c: c, id: r.txID}, nil
}

// ID is the transaction id the daemon assigned, sent as tx_id with every operation.
func (tx *Tx) ID() uint32 { return tx.id }

func (tx *Tx) String() string { return "xenstore transaction " + strconv.FormatUint(uint64(tx.id), 10) }

// End ends the transaction (XS_TRANSACTION_END), committing its changes if commit is set. A
// commit that conflicted with another connection fails with an error matching xen.EAGAIN, and
// nothing was changed: the whole transaction can be run again.
func (tx *Tx) End(ctx context.Context, commit bool) error {
	if tx.ended.Swap(true) {
		return errTxEnded
	}
	arg := []byte("F\x00")
	if commit {
		arg = []byte("T\x00")
	}
	_, err := tx.c.roundTrip(ctx, XS_TRANSACTION_END, tx.id, "", arg)
	return err
}

// Commit ends the transaction and applies its changes.
func (tx *Tx) Commit(ctx context.Context) error { return tx.End(ctx, true) }

// Abort ends the transaction and drops its changes.
func (tx *Tx) Abort(ctx context.Context) error { return tx.End(ctx, false) }

// backoffUnit scales the pauses; tests shrink it.
var backoffUnit = time.Millisecond

// backoff waits before the next attempt of a conflicting transaction: a random time up to
// 1 ms << attempt (capped at 1 s). Retrying at once makes transactions that touch the same
// node collide again and again (seen with ten goroutines against the real xenstored); spreading
// the retries lets one of them commit each round. The cap must exceed a transaction's own
// length, which on a loaded host under emulation reaches 100 ms and more.
func backoff(ctx context.Context, attempt int) error {
	limit := backoffUnit << min(attempt, 10)
	t := time.NewTimer(time.Duration(rand.Int64N(int64(limit))) + time.Microsecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Update runs fn in a transaction and commits it, running it again in a fresh transaction when
// the commit (or an operation inside fn) fails with EAGAIN, at most MaxUpdateAttempts times, with a
// randomised, growing pause between attempts.
// If fn returns any other error the transaction is aborted and the error returned as is. fn may
// therefore run several times and must not have effects outside the transaction.
func (c *Client) Update(ctx context.Context, fn func(tx *Tx) error) error {
	var err error
	for attempt := 0; attempt < MaxUpdateAttempts; attempt++ {
		var tx *Tx
		tx, err = c.TransactionStart(ctx)
		if err != nil {
			return err
		}
		if err = fn(tx); err != nil {
			// The abort must reach the daemon even when ctx has just ended, or the transaction
			// would stay open until the connection closes.
			_ = tx.Abort(context.WithoutCancel(ctx))
		} else {
			err = tx.Commit(ctx)
		}
		if !errors.Is(err, xen.EAGAIN) {
			return err
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
	return fmt.Errorf("xenstore: transaction still conflicting after %d attempts: %w", MaxUpdateAttempts, err)
}

func (tx *Tx) live(op MsgType, path string) error {
	if tx.ended.Load() {
		return fmt.Errorf("%w (%v %s)", errTxEnded, op, path)
	}
	return nil
}

// Read returns the value of a node as the transaction sees it.
func (tx *Tx) Read(ctx context.Context, path string) ([]byte, error) {
	if err := tx.live(XS_READ, path); err != nil {
		return nil, err
	}
	return tx.c.read(ctx, tx.id, path)
}

// Write sets the value of a node within the transaction.
func (tx *Tx) Write(ctx context.Context, path string, value []byte) error {
	if err := tx.live(XS_WRITE, path); err != nil {
		return err
	}
	return tx.c.write(ctx, tx.id, path, value)
}

// Mkdir creates a node within the transaction.
func (tx *Tx) Mkdir(ctx context.Context, path string) error {
	if err := tx.live(XS_MKDIR, path); err != nil {
		return err
	}
	return tx.c.mkdir(ctx, tx.id, path)
}

// Rm removes a node and its children within the transaction.
func (tx *Tx) Rm(ctx context.Context, path string) error {
	if err := tx.live(XS_RM, path); err != nil {
		return err
	}
	return tx.c.rm(ctx, tx.id, path)
}

// Directory lists a node's children as the transaction sees them.
func (tx *Tx) Directory(ctx context.Context, path string) ([]string, error) {
	if err := tx.live(XS_DIRECTORY, path); err != nil {
		return nil, err
	}
	return tx.c.directory(ctx, tx.id, path)
}

// GetPerms returns a node's permissions as the transaction sees them.
func (tx *Tx) GetPerms(ctx context.Context, path string) ([]Perm, error) {
	if err := tx.live(XS_GET_PERMS, path); err != nil {
		return nil, err
	}
	return tx.c.getPerms(ctx, tx.id, path)
}

// SetPerms replaces a node's permissions within the transaction.
func (tx *Tx) SetPerms(ctx context.Context, path string, perms []Perm) error {
	if err := tx.live(XS_SET_PERMS, path); err != nil {
		return err
	}
	return tx.c.setPerms(ctx, tx.id, path, perms)
}
