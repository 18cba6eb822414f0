// The boot timeline on the console: how long after the guest's entry the network came up.

package unikernel

import (
	"fmt"
	"io"

	"github.com/tamaxen/tamaxen/netstack"
)

// TimelinePrefix starts the console line of the boot timeline, whatever the program's name:
// "tamaxen: boot timeline ms: runtime=3.1 xenstore=4.0 netfront=25.2 stack=27.9 first-packet=31.0".
const TimelinePrefix = "tamaxen: "

// newTimeline starts the boot timeline, with its first stage: main runs.
func newTimeline() *netstack.Timeline {
	tl := netstack.NewTimeline(sinceEntry)
	tl.Mark(netstack.StageRuntime)
	return tl
}

// Timeline returns the boot timeline: when, after the guest's entry, main started, XenStore
// was up, netfront connected, the stack was up and the first packet came in.
func (u *Unikernel) Timeline() *netstack.Timeline { return u.opts.timeline }

// showTimeline prints the boot timeline on out once Start has brought the network up: the
// stages reached so far at once, then the whole line, first packet included, as soon as the
// first frame comes in (never, if the program stops first). A guest that nobody talks to thus
// still tells how long its start took, and the last timeline line on a console is the most
// complete. out is the console as Start found it.
func (u *Unikernel) showTimeline(out io.Writer) {
	tl := u.opts.timeline
	print := func() { fmt.Fprintf(out, "%s%s\n", TimelinePrefix, tl) }
	select {
	case <-tl.FirstPacket():
		print()
		return
	default:
	}
	print()
	go func() {
		select {
		case <-tl.FirstPacket():
			print()
		case <-u.done:
		}
	}()
}
