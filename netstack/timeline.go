// The boot timeline: how long after the guest's entry each stage of bringing the network up
// was reached, for the console and /metrics.

package netstack

import (
	"strconv"
	"sync/atomic"
	"time"
)

// Stage is a point in the guest's start.
type Stage int

// The stages, in the order a guest reaches them.
const (
	// StageRuntime: the Go runtime and every package's init are done, the program's main runs.
	StageRuntime Stage = iota
	// StageXenStore: the guest's XenStore connection is up.
	StageXenStore
	// StageNetfront: netfront is connected to its backend (Open marks it).
	StageNetfront
	// StageStack: the stack is configured, IPv4 and IPv6 addresses in place (after the DHCP
	// lease when there is one), and the guest has announced itself (Open marks it).
	StageStack
	// StageFirstPacket: the first frame received from the network once the stack is up: when
	// a peer first reached the ready guest (frames before, such as DHCP's, do not count).
	StageFirstPacket
	numStages
)

var stageNames = [numStages]string{"runtime", "xenstore", "netfront", "stack", "first-packet"}

func (s Stage) String() string {
	if s >= 0 && s < numStages {
		return stageNames[s]
	}
	return "stage(" + strconv.Itoa(int(s)) + ")"
}

// Timeline records when each Stage was reached, as time since the guest's entry. Its clock is
// the platform's: on Xen, the time since the PVH entry point; hosted, since the process
// started. Mark may be called from any goroutine; the first mark of a stage is kept.
type Timeline struct {
	since func() time.Duration
	// at holds each stage's time since entry in nanoseconds, plus one so that zero means
	// "not reached".
	at      [numStages]atomic.Int64
	reached chan struct{} // closed when StageFirstPacket is marked
	last    chan struct{} // closed when StageStack is marked
}

// NewTimeline returns a timeline reading the time since entry from since.
func NewTimeline(since func() time.Duration) *Timeline {
	return &Timeline{since: since, reached: make(chan struct{}), last: make(chan struct{})}
}

// Mark records that stage s is reached now, unless it was already. A nil Timeline ignores it.
func (t *Timeline) Mark(s Stage) {
	if t == nil || s < 0 || s >= numStages {
		return
	}
	if t.at[s].CompareAndSwap(0, int64(max(t.since(), 0))+1) {
		switch s {
		case StageStack:
			close(t.last)
		case StageFirstPacket:
			close(t.reached)
		}
	}
}

// packet is called for every frame received: it marks StageFirstPacket on the first one after
// StageStack. Once marked it costs one atomic load.
func (t *Timeline) packet() {
	if t == nil || t.at[StageFirstPacket].Load() != 0 || t.at[StageStack].Load() == 0 {
		return
	}
	t.Mark(StageFirstPacket)
}

// At returns the time since entry at which stage s was reached, and whether it was.
func (t *Timeline) At(s Stage) (time.Duration, bool) {
	if t == nil || s < 0 || s >= numStages {
		return 0, false
	}
	v := t.at[s].Load()
	return time.Duration(v - 1), v != 0
}

// StackUp is closed once StageStack is marked.
func (t *Timeline) StackUp() <-chan struct{} { return t.last }

// FirstPacket is closed once StageFirstPacket is marked.
func (t *Timeline) FirstPacket() <-chan struct{} { return t.reached }

// String is the console's line, one stage after the other in milliseconds with a tenth,
// only the stages reached: "boot timeline ms: runtime=3.1 xenstore=4.0 netfront=25.2 stack=27.9
// first-packet=31.0". Stages are always in this order, so the line is easy to parse.
func (t *Timeline) String() string {
	b := []byte("boot timeline ms:")
	for s := range numStages {
		d, ok := t.At(s)
		if !ok {
			continue
		}
		b = append(b, ' ')
		b = append(b, stageNames[s]...)
		b = append(b, '=')
		b = strconv.AppendFloat(b, float64(d)/float64(time.Millisecond), 'f', 1, 64)
	}
	return string(b)
}

// writeTimeline writes the stages reached as gauges, in seconds since entry.
func (s *Stack) writeTimeline(mw *metricWriter) {
	t := s.cfg.Timeline
	if t == nil {
		return
	}
	const name = "tamaxen_boot_milestone_seconds"
	mw.header(name, "gauge", "Time from the guest's entry to each stage of its start: runtime (main runs), xenstore, netfront (connected), stack (configured and announced), first-packet (first frame received once the stack is up).")
	for st := range numStages {
		if d, ok := t.At(st); ok {
			mw.float(name, d.Seconds(), "stage", stageNames[st])
		}
	}
}
