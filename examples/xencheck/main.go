//go:build tamago && amd64

// Command xencheck exercises the Xen core services against dom0 on real Xen: it grants a page
// for dom0 to map, answers notifications on an event channel dom0 binds to, runs concurrent
// XenStore transactions that conflict, and waits for a watch event dom0 triggers.
//
// It publishes what dom0 needs under data/xencheck/ in its XenStore home directory:
// gref (the grant), port (the unbound event channel) and ready; dom0's side is
// tools/xentest/xencheck/test.sh with tools/xentest/cmd/xenpeer.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tamaxen/tamaxen/board/xenpvh"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/shmem"
	"github.com/tamaxen/tamaxen/xen/xenstore"
)

const (
	dir          = "data/xencheck/"
	grantPrefix  = "tamaxen grant pattern"
	pingPongs    = 100
	txGoroutines = 10
	txEach       = 10
)

func main() {
	if err := run(); err != nil {
		fmt.Printf("xencheck: error: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("xencheck: done\n")
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	xs, err := xenpvh.XenStore()
	if err != nil {
		return err
	}

	// Grant: a zeroed DMA page with a known pattern, read-only to dom0.
	gt, err := xenpvh.GrantTable()
	if err != nil {
		return fmt.Errorf("grant table: %w", err)
	}
	page, err := xenpvh.Memory.AllocPage()
	if err != nil {
		return err
	}
	n := copy(page.Data, grantPrefix)
	for i := n; i < len(page.Data); i++ {
		page.Data[i] = byte(i % 251)
	}
	ref, err := gt.Grant(0, page.Frame, true)
	if err != nil {
		return fmt.Errorf("granting: %w", err)
	}
	mapped, limit := gt.Frames()
	fmt.Printf("xencheck: granted frame %#x as ref %d (table %d of %d frames)\n", page.Frame, ref, mapped, limit)

	// Event channel: unbound, for dom0 to bind to, and a page dom0 may write, carrying the
	// sequence numbers of the ping-pong (seq at 0 written by dom0, ack at 4 written by us).
	ch, err := xenpvh.Events.AllocUnbound(0)
	if err != nil {
		return fmt.Errorf("alloc_unbound: %w", err)
	}
	seqPage, err := xenpvh.Memory.AllocPage()
	if err != nil {
		return err
	}
	seqRef, err := gt.Grant(0, seqPage.Frame, false)
	if err != nil {
		return fmt.Errorf("granting the sequence page: %w", err)
	}
	for k, v := range map[string]string{
		"gref": strconv.Itoa(int(ref)), "port": strconv.Itoa(int(ch.Port())), "seqref": strconv.Itoa(int(seqRef)),
	} {
		if err := xs.Write(ctx, dir+k, []byte(v)); err != nil {
			return err
		}
	}
	w, err := xs.Watch(ctx, dir+"ping")
	if err != nil {
		return err
	}
	if err := xs.Write(ctx, dir+"ready", []byte("1")); err != nil {
		return err
	}
	fmt.Printf("xencheck: ready gref %d port %d seqref %d\n", ref, ch.Port(), seqRef)

	// dom0 writes seq i and notifies, and sends i+1 only after reading our ack of i. Wakeups
	// are hints (they coalesce, and one event can wake twice), so the page says what happened:
	// every value 1..100 must be seen, in order, or dom0 stalls and the check fails. dom0 reads
	// and writes the page concurrently, so its words are accessed atomically.
	wakeups := 0
	for last := uint32(0); last < pingPongs; {
		if err := ch.Wait(ctx); err != nil {
			return fmt.Errorf("waiting for notification %d: %w", last+1, err)
		}
		wakeups++
		switch seq := shmem.Load32(seqPage.Data, 0); {
		case seq == last:
			continue // a spurious wakeup
		case seq != last+1:
			return fmt.Errorf("sequence jumped from %d to %d", last, seq)
		default:
			last = seq
			shmem.Store32(seqPage.Data, 4, seq)
			if err := ch.Notify(); err != nil {
				return fmt.Errorf("answering notification %d: %w", seq, err)
			}
		}
	}
	fmt.Printf("xencheck: evtchn received %d notifications in order (%d wakeups)\n", pingPongs, wakeups)

	if err := transactions(ctx, xs); err != nil {
		return err
	}

	// The watch fires once on registration; wait for dom0's write.
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.Events():
		}
		v, err := xs.Read(ctx, dir+"ping")
		if err == nil && len(v) > 0 {
			fmt.Printf("xencheck: watch fired with %q\n", v)
			break
		}
	}

	// dom0 unmapped the grant before writing ping, so revoking it must succeed now.
	for _, g := range []struct {
		ref  xen.GrantRef
		page xen.Page
	}{{ref, page}, {seqRef, seqPage}} {
		if err := gt.Revoke(g.ref); err != nil {
			return fmt.Errorf("revoking grant %d: %w", g.ref, err)
		}
		xenpvh.Memory.FreePage(g.page)
	}
	fmt.Printf("xencheck: grant %d revoked, grant %d revoked\n", ref, seqRef)
	return nil
}

// transactions increments one counter from many goroutines, each increment a read-modify-write
// transaction; conflicts end in EAGAIN and Update retries them.
func transactions(ctx context.Context, xs *xenstore.Client) error {
	counter := dir + "counter"
	if err := xs.Write(ctx, counter, []byte("0")); err != nil {
		return err
	}
	var attempts atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, txGoroutines)
	start := time.Now()
	for g := 0; g < txGoroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < txEach; i++ {
				err := xs.Update(ctx, func(tx *xenstore.Tx) error {
					attempts.Add(1)
					v, err := tx.Read(ctx, counter)
					if err != nil {
						return err
					}
					n, err := strconv.Atoi(string(v))
					if err != nil {
						return err
					}
					// The read and the write are two round trips apart, so the
					// goroutines' transactions overlap and conflict without help.
					return tx.Write(ctx, counter, []byte(strconv.Itoa(n+1)))
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return fmt.Errorf("transaction: %w", err)
	}
	v, err := xs.Read(ctx, counter)
	if err != nil {
		return err
	}
	total := txGoroutines * txEach
	fmt.Printf("xencheck: transactions %d committed, %d attempts (%d retried), counter %s, in %v\n",
		total, attempts.Load(), attempts.Load()-int64(total), v, time.Since(start).Round(time.Millisecond))
	if string(v) != strconv.Itoa(total) {
		return fmt.Errorf("counter is %s after %d increments", v, total)
	}
	return nil
}
