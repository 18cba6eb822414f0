// The XenBus device states of io/xenbus.h and their text form in XenStore.

// Package xenbus is the frontend half of the XenBus protocol of io/xenbus.h: the state machine
// each PV device's frontend and backend walk through by writing their "state" node in
// XenStore, device discovery under device/<type>/, and the backend lookup.
//
// It is portable Go (no TamaGo import) built on package xenstore. A driver opens its device
// (Open), follows the backend's state (WatchBackend), and uses Connect and Close for the usual
// handshake:
//
//	frontend                      backend
//	Initialising                  InitWait     (backend ready for the frontend's details)
//	write ring refs, Connected -> Connected
//	Closing                    -> Closing, or straight to Closed
//	Closed                     -> Closed       (and InitWait again if the frontend returns
//	                                             to Initialising: a reconnect)
//
// Every state comes from another domain: a value that is not a known state number reads as
// XenbusStateUnknown, and the reason is kept for diagnostics, never acted upon.
//
// Platform is what a frontend driver needs from its guest (XenStore, grants, event channels,
// memory). It lives here, below the drivers, so that whatever provides it (the board, the
// simulated machine) and the drivers that use it (netfront) need not import each other.
package xenbus

import (
	"fmt"
	"strconv"
)

// State is a device's XenBus state (enum xenbus_state).
type State uint32

// States, spelled as in enum xenbus_state.
const (
	XenbusStateUnknown       State = 0
	XenbusStateInitialising  State = 1
	XenbusStateInitWait      State = 2 // early init done, waiting for the peer's details
	XenbusStateInitialised   State = 3 // waiting for a connection from the peer
	XenbusStateConnected     State = 4
	XenbusStateClosing       State = 5 // being closed because of an error or an unplug
	XenbusStateClosed        State = 6
	XenbusStateReconfiguring State = 7
	XenbusStateReconfigured  State = 8
)

var stateNames = [...]string{
	XenbusStateUnknown:       "Unknown",
	XenbusStateInitialising:  "Initialising",
	XenbusStateInitWait:      "InitWait",
	XenbusStateInitialised:   "Initialised",
	XenbusStateConnected:     "Connected",
	XenbusStateClosing:       "Closing",
	XenbusStateClosed:        "Closed",
	XenbusStateReconfiguring: "Reconfiguring",
	XenbusStateReconfigured:  "Reconfigured",
}

// Valid reports whether s is one of the states the header defines.
func (s State) Valid() bool { return int(s) < len(stateNames) }

func (s State) String() string {
	if s.Valid() {
		return stateNames[s]
	}
	return "State(" + strconv.FormatUint(uint64(s), 10) + ")"
}

// wire is the form written to XenStore: the state number in decimal.
func (s State) wire() string { return strconv.FormatUint(uint64(s), 10) }

// maxStateLen bounds the state text we quote in errors; the longest valid one is one digit.
const maxStateLen = 16

// ParseState decodes a state node's value. Only a decimal number of a defined state is
// accepted (a trailing NUL, which some writers add, is ignored); anything else is reported as
// an error together with XenbusStateUnknown, which is what the value then means to a driver.
func ParseState(v []byte) (State, error) {
	if n := len(v); n > 0 && v[n-1] == 0 {
		v = v[:n-1]
	}
	if len(v) == 0 || len(v) > 3 {
		return XenbusStateUnknown, badState(v)
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return XenbusStateUnknown, badState(v)
		}
		n = n*10 + int(c-'0')
	}
	if s := State(n); s.Valid() {
		return s, nil
	}
	return XenbusStateUnknown, badState(v)
}

func badState(v []byte) error {
	if len(v) > maxStateLen {
		v = v[:maxStateLen]
	}
	return fmt.Errorf("xenbus: state %q is not a XenBus state", v)
}
