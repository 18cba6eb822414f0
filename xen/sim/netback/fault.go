// Misbehaviour knobs: a backend that breaks the protocol on purpose, for hostile-backend tests.

package netback

import "github.com/tamaxen/tamaxen/xen/netif"

// Fault is a way for the backend to misbehave. Faults apply to every packet from the moment
// they are set (Backend.SetFault) until they are cleared with FaultNone.
type Fault int

const (
	FaultNone Fault = iota
	// FaultTxBadID answers TX requests with an id the frontend never used.
	FaultTxBadID
	// FaultTxDuplicate answers the first slot of a TX packet twice: one response more than
	// there were requests.
	FaultTxDuplicate
	// FaultRxBadID answers RX requests with an id other than the one posted at that position.
	FaultRxBadID
	// FaultRxOverPage reports RX data at an offset and size that run past the page end.
	FaultRxOverPage
	// FaultRxBadExtra follows each RX frame's first slot with an extra-info slot of an
	// unknown type.
	FaultRxBadExtra
	// FaultRspProdOverflow publishes a response producer index far ahead of the requests, on
	// whichever ring next gets responses.
	FaultRspProdOverflow
	// FaultStall stops answering: TX requests and RX frames wait until the fault is cleared.
	FaultStall
	// FaultRxManySlots follows each RX frame's first data slot with RxPadSlots empty
	// more_data slots: a frame of more slots than any backend may use.
	FaultRxManySlots
)

// RxPadSlots is how many empty slots FaultRxManySlots adds to a frame: twice the most a
// frontend accepts (XEN_NETIF_NR_SLOTS_MIN), fewer than the buffers a frontend posts by
// default, so that the backend finds them all posted.
const RxPadSlots = 2 * netif.XEN_NETIF_NR_SLOTS_MIN

var faultNames = [...]string{"none", "tx-bad-id", "tx-duplicate", "rx-bad-id", "rx-over-page",
	"rx-bad-extra", "rsp-prod-overflow", "stall", "rx-many-slots"}

func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "fault(?)"
}
