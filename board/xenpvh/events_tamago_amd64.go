// Event channel upcalls: a LAPIC vector serviced by a goroutine, and the VIRQ_TIMER wakeups.

//go:build tamago && amd64

package xenpvh

import (
	"context"
	"math"
	"runtime"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/hypercall"
	"github.com/tamaxen/tamaxen/xen/evtchn"
)

// UpcallVector is the interrupt vector Xen raises on this vCPU when an event channel is pending
// (HVMOP_set_evtchn_upcall_vector). TamaGo services vectors 32-255.
const UpcallVector = 0x30

var (
	// Events demultiplexes event channel upcalls to per-port waiters.
	Events *evtchn.Dispatcher

	// timerReady is set once VIRQ_TIMER is bound, so idle may arm the one-shot timer and block.
	timerReady atomic.Bool

	// upcalls counts upcall interrupts, stray ones included.
	upcalls atomic.Uint64
)

// isr runs in TamaGo's interrupt-servicing goroutine: it only demultiplexes and wakes.
func isr(vector int) {
	if vector == UpcallVector {
		upcalls.Add(1)
		Events.Upcall()
	}
}

// initEvents starts interrupt servicing, then routes event channel upcalls to it and binds the
// timer VIRQ that wakes the idle vCPU.
func initEvents() error {
	d, err := evtchn.New(hypercall.Xen{}, sharedInfo, 0)
	if err != nil {
		return err
	}
	Events = d
	AMD64.LAPIC.Enable()

	// The servicing goroutine must be asleep in ServiceInterrupts before the first upcall:
	// an interrupt that finds no handler goroutine is never acknowledged.
	var handler atomic.Uint64
	go func() {
		g, _ := runtime.GetG()
		handler.Store(uint64(g))
		AMD64.ServiceInterrupts(isr)
	}()
	for handler.Load() == 0 || !runtime.Asleep(uint(handler.Load())) {
		runtime.Gosched()
	}

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

// idle is called by the scheduler when no goroutine can run; until is the nanotime of the next
// timer (math.MaxInt64 for none). It arms Xen's one-shot timer for that deadline and halts
// until the timer or any other event interrupts: an idle guest uses no CPU time.
func idle(until int64) {
	if !timerReady.Load() {
		// Before the timer VIRQ is bound only an interrupt can wake us: spin for timers.
		if until == math.MaxInt64 {
			AMD64.WaitInterrupt()
		}
		return
	}
	if until != math.MaxInt64 {
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
	AMD64.WaitInterrupt()
}

// Upcalls returns the number of event channel upcall interrupts taken so far.
func Upcalls() uint64 { return upcalls.Load() }
