// Table tests of the state names and of parsing what a backend writes.

package xenbus

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStateValues(t *testing.T) {
	// enum xenbus_state in io/xenbus.h.
	for want, s := range []State{XenbusStateUnknown, XenbusStateInitialising, XenbusStateInitWait,
		XenbusStateInitialised, XenbusStateConnected, XenbusStateClosing, XenbusStateClosed,
		XenbusStateReconfiguring, XenbusStateReconfigured} {
		assert.EqualValues(t, want, s)
		assert.True(t, s.Valid())
	}
	assert.Equal(t, "Closing", XenbusStateClosing.String())
	assert.Equal(t, "InitWait", XenbusStateInitWait.String())
	assert.Equal(t, "Reconfigured", XenbusStateReconfigured.String())
	assert.Equal(t, "State(9)", State(9).String())
	assert.False(t, State(9).Valid())
}

func TestParseState(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want State
		ok   bool
	}{
		{"0", XenbusStateUnknown, true},
		{"1", XenbusStateInitialising, true},
		{"4", XenbusStateConnected, true},
		{"6", XenbusStateClosed, true},
		{"8", XenbusStateReconfigured, true},
		{"4\x00", XenbusStateConnected, true},
		{"04", XenbusStateConnected, true},
		{"9", XenbusStateUnknown, false},
		{"10", XenbusStateUnknown, false},
		{"4294967300", XenbusStateUnknown, false},
		{"", XenbusStateUnknown, false},
		{"\x00", XenbusStateUnknown, false},
		{"4\x00\x00", XenbusStateUnknown, false},
		{"-1", XenbusStateUnknown, false},
		{"+4", XenbusStateUnknown, false},
		{" 4", XenbusStateUnknown, false},
		{"4\n", XenbusStateUnknown, false},
		{"Connected", XenbusStateUnknown, false},
		{"0x4", XenbusStateUnknown, false},
	} {
		s, err := ParseState([]byte(tc.in))
		assert.Equal(t, tc.want, s, "%q", tc.in)
		if tc.ok {
			assert.NoError(t, err, "%q", tc.in)
		} else {
			assert.Error(t, err, "%q", tc.in)
		}
	}
	assert.Equal(t, "4", XenbusStateConnected.wire())
}
