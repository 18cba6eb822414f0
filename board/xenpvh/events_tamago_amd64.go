// Event channel upcalls: a LAPIC vector whose gate only records the upcall, serviced by the
// scheduler's idle hook, and the VIRQ_TIMER wakeups.

//go:build tamago && amd64

package xenpvh

import (
	"context"
	"math"
	"sync/atomic"
	"unsafe"

	"github.com/tamaxen/tamaxen/hypercall"
	"github.com/tamaxen/tamaxen/xen/evtchn"
)

// UpcallVector is the interrupt vector Xen raises on this vCPU when an event channel is pending
// (HVMOP_set_evtchn_upcall_vector).
const UpcallVector = 0x30

// The gate writes the local APIC's end-of-interrupt register at 0xfee000b0 (the xAPIC page at
// its default base, which TamaGo maps).

var (
	// Events demultiplexes event channel upcalls to per-port waiters.
	Events *evtchn.Dispatcher

	// upcallRaised is set to 1 by the upcall gate (upcallEntry, a plain 32-bit store, atomic on
	// x86) and swapped back to 0 by serviceUpcall.
	upcallRaised uint32

	// timerReady is set once VIRQ_TIMER is bound, so idle may arm the one-shot timer and block.
	timerReady atomic.Bool

	// backstopRaised is set to 1 by the backstop timer's gate (backstopEntry).
	backstopRaised uint32

	// upcalls counts serviced upcalls; idles counts calls of the scheduler's idle hook;
	// rescued counts upcalls Xen flagged whose interrupt never came, found by the backstop.
	upcalls atomic.Uint64
	idles   atomic.Uint64
	rescued atomic.Uint64
)

// The backstop: the local APIC timer, in periodic mode, ends any halt at least once a second,
// and idle then services an upcall Xen flagged (evtchn_upcall_pending) even if its interrupt
// never arrived. Xen raises the upcall vector only when that flag goes from 0 to 1, so one lost
// interrupt would otherwise leave the flag set and the guest halted for good, its own timer
// VIRQ included. The backstop is independent of event channels: Xen emulates the local APIC
// timer, counting at 1 GHz (its APIC bus cycle is 1 ns) with a divider of 1.
const (
	backstopVector   = 0x31
	backstopPeriodNs = 1_000_000_000
	lapicBase        = 0xfee00000
	lapicLVTTimer    = 0x320
	lapicTimerInit   = 0x380
	lapicTimerDivide = 0x3e0
	lvtPeriodic      = 1 << 17
)

// The design, and why it does not use TamaGo's amd64.CPU.ServiceInterrupts: that wakes its
// servicing goroutine from the interrupt itself, by rewriting the goroutine's entry in the
// scheduler's timer heap (runtime.WakeG), and acknowledges the interrupt only once that
// goroutine ran. An interrupt that lands while the runtime is in the middle of a timer operation
// (gVisor's TCP timers, time.Sleep, netfront's poll timers: constant under load) can lose that
// wakeup; the upcall is then never acknowledged, the local APIC holds back every later upcall,
// VIRQ_TIMER included, and the guest halts for good. The soak test on real Xen hit exactly that.
//
// Here the gate touches no runtime state: it sets upcallRaised and acknowledges at once. The
// flag is serviced, and the goroutines waiting on event channels are woken (evtchn.Dispatcher
// does non-blocking channel sends), where the scheduler has nothing to run: in idle, before it
// halts and after the halt ends. The cost is latency under load: an event now waits until no
// goroutine is runnable, where TamaGo's servicing goroutine could run as soon as the running one
// blocked (TamaGo does not preempt, so never before that). The datapath's goroutines block as
// soon as their rings are drained, so the wait is short; the soak and xen-bench measure it.

// initEvents installs the upcall gate, routes event channel upcalls to it and binds the timer
// VIRQ that wakes the idle vCPU.
func initEvents() error {
	d, err := evtchn.New(hypercall.Xen{}, sharedInfo, 0)
	if err != nil {
		return err
	}
	Events = d
	AMD64.LAPIC.Enable()
	setGate(UpcallVector, upcallEntryAddr())
	setGate(backstopVector, backstopEntryAddr())
	mmioWrite32(lapicBase+lapicTimerDivide, 0b1011) // divide by 1
	mmioWrite32(lapicBase+lapicLVTTimer, lvtPeriodic|backstopVector)
	mmioWrite32(lapicBase+lapicTimerInit, backstopPeriodNs)
	if err := hypercall.SetEvtchnUpcallVector(0, UpcallVector); err != nil {
		return err
	}
	timer, err := d.BindVIRQ(evtchn.VIRQ_TIMER, 0)
	if err != nil {
		return err
	}
	// The timer's only job is to end HLT; waiting on it unmasks the port for the next one.
	go func() {
		for timer.Wait(context.Background()) == nil {
		}
	}()
	timerReady.Store(true)
	return nil
}

// setGate points IDT entry vector at handler: a 64-bit interrupt gate (interrupts disabled while
// it runs) in the code segment TamaGo's entry set up (selector 8), as TamaGo's own gates are.
func setGate(vector int, handler uintptr) {
	const gateSize = 16
	g := (*[gateSize]byte)(unsafe.Add(unsafe.Pointer(nil), idtBase()+uintptr(vector*gateSize)))
	*g = [gateSize]byte{
		0: byte(handler), 1: byte(handler >> 8), // offset 15:0
		2: 8, 3: 0, // segment selector
		4: 0,                                           // IST
		5: 0b10001110,                                  // present, DPL 0, 64-bit interrupt gate
		6: byte(handler >> 16), 7: byte(handler >> 24), // offset 31:16
		8: byte(handler >> 32), 9: byte(handler >> 40), 10: byte(handler >> 48), 11: byte(handler >> 56),
	}
}

// serviceUpcall runs the dispatcher if the gate recorded an upcall, or if the backstop timer
// fired and finds one flagged by Xen; it reports whether it ran the dispatcher.
func serviceUpcall() bool {
	raised := atomic.SwapUint32(&upcallRaised, 0) != 0
	backstop := atomic.SwapUint32(&backstopRaised, 0) != 0
	if !raised {
		if !backstop || !Events.Pending() {
			return false
		}
		rescued.Add(1)
	}
	upcalls.Add(1)
	Events.Upcall()
	return true
}

// idle is called by the scheduler when no goroutine can run; until is the nanotime of the next
// timer, or 0 (or math.MaxInt64) for none. A guest with no timer at all passes 0: arming Xen's
// timer for it would fire at once and spin the vCPU. It services an upcall that arrived meanwhile; otherwise it
// arms Xen's one-shot timer for the deadline and halts until the timer or any other event
// interrupts, then services what woke it. An idle guest uses no CPU time.
func idle(until int64) {
	idles.Add(1)
	if serviceUpcall() {
		return
	}
	noTimer := until <= 0 || until == math.MaxInt64
	if !timerReady.Load() {
		// Before the timer VIRQ is bound only an interrupt can wake us: spin for timers.
		if noTimer {
			halt()
			serviceUpcall()
		}
		return
	}
	if !noTimer {
		deadline := until - wallOffset
		if deadline < 0 {
			deadline = 0
		}
		// Without VCPU_SSHOTTMR_future a deadline already past fires at once, which is what
		// a scheduler that is late wants.
		if err := hypercall.SetSingleshotTimer(0, uint64(deadline), 0); err != nil {
			return
		}
	}
	halt()
	serviceUpcall()
}

// Implemented in cpu_tamago_amd64.s.
func halt()
func upcallEntryAddr() uintptr
func backstopEntryAddr() uintptr
func mmioWrite32(addr uintptr, val uint32)
func idtBase() uintptr

// Upcalls returns the number of event channel upcalls serviced so far.
func Upcalls() uint64 { return upcalls.Load() }

// Rescued returns how many upcalls the backstop timer found flagged by Xen without their
// interrupt having arrived (0 on a healthy host).
func Rescued() uint64 { return rescued.Load() }

// Idles returns the number of times the scheduler found nothing to run and called the idle hook.
func Idles() uint64 { return idles.Load() }

// CPUTime returns where this vCPU's time went since the domain was created, as Xen accounted
// it: Time[RUNSTATE_running] is the CPU the guest used, Time[RUNSTATE_runnable] what other
// domains took while it was ready to run, Time[RUNSTATE_blocked] its halts. Unlike the Go
// runtime's CPU estimates, which on TamaGo are updated only by the collector, it is exact.
func CPUTime() (hypercall.Runstate, error) { return hypercall.GetRunstate(0) }
