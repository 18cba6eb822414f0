// The soak's tally: what each kind of traffic moved, lost and corrupted.

package main

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// tally counts one kind of TCP transfer. A transfer is ok (every byte as expected), failed
// (ended early: timeout, reset, short body; its bytes are lost) or corrupt (completed with
// other bytes than sent, or the wrong length).
type tally struct {
	ok, failed, corrupt int
	bytes               int64 // bytes of the transfers that were ok
}

// result is shared by every worker; mu guards all of it.
type result struct {
	mu                     sync.Mutex
	start                  time.Time
	elapsed                time.Duration
	download, upload, echo tally
	udpSent, udpRecv       int64
	udpAltered, udpDup     int64
	errs                   []string // the first few failures, for the report
	errsDropped            int
}

const keepErrs = 8

func (r *result) add(t *tally, kind string, bytes int64, err error, corrupt bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case corrupt:
		t.corrupt++
	case err != nil:
		t.failed++
	default:
		t.ok++
		t.bytes += bytes
		return
	}
	msg := fmt.Sprintf("%s at %v: %v", kind, time.Since(r.start).Round(time.Second), err)
	if len(r.errs) < keepErrs {
		r.errs = append(r.errs, msg)
	} else {
		r.errsDropped++
	}
}

// ok says whether no TCP byte was lost or corrupted.
func (r *result) ok() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range []tally{r.download, r.upload, r.echo} {
		if t.failed != 0 || t.corrupt != 0 {
			return false
		}
	}
	return true
}

func (r *result) udpLossPct() float64 {
	if r.udpSent == 0 {
		return 0
	}
	return 100 * float64(r.udpSent-r.udpRecv) / float64(r.udpSent)
}

func (t tally) String() string {
	return fmt.Sprintf("%d ok (%d B), %d failed, %d corrupt", t.ok, t.bytes, t.failed, t.corrupt)
}

func (r *result) progressLine() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("soak: at %v: downloads %s | uploads %s | tcp echo %s | udp sent %d received %d",
		time.Since(r.start).Round(time.Second), r.download, r.upload, r.echo, r.udpSent, r.udpRecv)
}

func (r *result) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	el := r.elapsed.Seconds()
	mib := func(n int64) string {
		return fmt.Sprintf("%.1f MiB, %.2f MiB/s", float64(n)/(1<<20), float64(n)/(1<<20)/el)
	}
	fmt.Fprintf(&b, "soak: %v\n", r.elapsed.Round(time.Second))
	fmt.Fprintf(&b, "soak: downloads %s (%s)\n", r.download, mib(r.download.bytes))
	fmt.Fprintf(&b, "soak: uploads %s (%s)\n", r.upload, mib(r.upload.bytes))
	fmt.Fprintf(&b, "soak: tcp echo %s (%s each way)\n", r.echo, mib(r.echo.bytes))
	fmt.Fprintf(&b, "soak: udp sent %d received %d lost %d (%.3f%%) altered %d duplicated %d",
		r.udpSent, r.udpRecv, r.udpSent-r.udpRecv, r.udpLossPct(), r.udpAltered, r.udpDup)
	for _, e := range r.errs {
		fmt.Fprintf(&b, "\nsoak: error: %s", e)
	}
	if r.errsDropped > 0 {
		fmt.Fprintf(&b, "\nsoak: error: ... and %d more", r.errsDropped)
	}
	return b.String()
}

// keyValues is the one line test.sh parses.
func (r *result) keyValues() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "soak-result seconds=%.0f", r.elapsed.Seconds())
	for _, k := range []struct {
		name string
		t    tally
	}{{"dl", r.download}, {"ul", r.upload}, {"echo", r.echo}} {
		fmt.Fprintf(&b, " %s_ok=%d %s_bytes=%d %s_failed=%d %s_corrupt=%d",
			k.name, k.t.ok, k.name, k.t.bytes, k.name, k.t.failed, k.name, k.t.corrupt)
	}
	fmt.Fprintf(&b, " udp_sent=%d udp_received=%d udp_altered=%d udp_duplicated=%d udp_loss_pct=%.3f",
		r.udpSent, r.udpRecv, r.udpAltered, r.udpDup, r.udpLossPct())
	return b.String()
}
