// Console: I/O port 0xe9 while booting, then the PV console ring that `xl console` shows.

//go:build tamago && amd64

package xenpvh

import (
	"encoding/binary"
	_ "unsafe" // for go:linkname

	"github.com/tamaxen/tamaxen/hypercall"
	"github.com/tamaxen/tamaxen/xen"
	"github.com/tamaxen/tamaxen/xen/console"
	"github.com/tamaxen/tamaxen/xen/evtchn"
)

// debugPort is Xen's debug console port: writes appear on Xen's console as "(dN) ...".
const debugPort = 0xe9

var (
	consRing *console.Ring
	consPort uint32
)

//go:linkname printk runtime/goos.Printk
func printk(c byte) {
	r := consRing
	if r == nil {
		// Xen prints port 0xe9 writes as "(dN) ..." when booted with guest_loglvl=all.
		outb(debugPort, c)
		return
	}
	b := [1]byte{c}
	r.Write(b[:])
	if c == '\n' {
		notifyConsole()
	}
}

// notifyConsole kicks xenconsoled. It is called from printk, so it builds the EVTCHNOP_send
// argument on the stack rather than through evtchn.Send, which allocates.
func notifyConsole() {
	var arg [evtchn.SizeofEvtchnSend]byte
	binary.LittleEndian.PutUint32(arg[:], consPort)
	_ = hypercall.Xen{}.EventChannelOp(evtchn.EVTCHNOP_send, arg[:])
}

// initConsole switches output to the PV console ring whose page and event channel the toolstack
// set up (HVM params CONSOLE_PFN and CONSOLE_EVTCHN). Without them output stays on port 0xe9.
func initConsole() {
	pfn, err := hypercall.GetParam(xen.HVM_PARAM_CONSOLE_PFN)
	if err != nil || pfn == 0 {
		return
	}
	port, err := hypercall.GetParam(xen.HVM_PARAM_CONSOLE_EVTCHN)
	if err != nil || port == 0 {
		return
	}
	page := physPage(xen.Frame(pfn).Addr())
	r, err := console.New(page)
	if err != nil {
		return
	}
	consPort = uint32(port)
	consRing = r
}

// flushConsole gives xenconsoled a moment to drain the ring before the domain goes away, so the
// last lines (a panic message) are not lost. It waits at most 200 ms.
func flushConsole() {
	r := consRing
	if r == nil {
		return
	}
	notifyConsole()
	deadline := nanotime() + 200e6
	for !r.Drained() && nanotime() < deadline {
	}
}
