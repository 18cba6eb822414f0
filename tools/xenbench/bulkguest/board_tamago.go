//go:build tamago && amd64

package main

import (
	"fmt"
	"io"

	// The Xen PVH board: boot, console, clock, events, XenStore and grant table.
	"github.com/tamaxen/tamaxen/board/xenpvh"
)

// writeBoardMetrics writes the board's event counters: upcalls serviced, those the backstop
// timer found, and the times the scheduler went idle.
func writeBoardMetrics(w io.Writer) {
	fmt.Fprintf(w, "# HELP tamaxen_board_upcalls_total Event upcalls serviced.\n# TYPE tamaxen_board_upcalls_total counter\ntamaxen_board_upcalls_total %d\n", xenpvh.Upcalls())
	fmt.Fprintf(w, "# HELP tamaxen_board_rescued_total Upcalls found by the backstop timer, their interrupt never delivered.\n# TYPE tamaxen_board_rescued_total counter\ntamaxen_board_rescued_total %d\n", xenpvh.Rescued())
	fmt.Fprintf(w, "# HELP tamaxen_board_idles_total Times the scheduler went idle.\n# TYPE tamaxen_board_idles_total counter\ntamaxen_board_idles_total %d\n", xenpvh.Idles())
}
