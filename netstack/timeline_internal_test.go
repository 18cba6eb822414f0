package netstack

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Every received frame passes through packet: it never allocates, before the stack is up,
// at the first packet, or after.
func TestTimelinePacketDoesNotAllocate(t *testing.T) {
	tl := NewTimeline(func() time.Duration { return time.Millisecond })
	var nilTL *Timeline
	assert.Zero(t, testing.AllocsPerRun(100, nilTL.packet))
	assert.Zero(t, testing.AllocsPerRun(100, tl.packet))
	_, ok := tl.At(StageFirstPacket)
	assert.False(t, ok, "no first packet before the stack is up")
	tl.Mark(StageStack)
	assert.Zero(t, testing.AllocsPerRun(100, tl.packet))
	_, ok = tl.At(StageFirstPacket)
	assert.True(t, ok)
	assert.Equal(t, "stage(9)", Stage(9).String())
}
