// sendFrames against a device that fails in each of the ways netfront can.

package netstack

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/tamaxen/tamaxen/netfront"
)

// fakeSender answers each SendBatch call with the next of its answers: how many frames went,
// and the error.
type fakeSender struct {
	answers []fakeAnswer
	calls   [][]netfront.TxFrame
}

type fakeAnswer struct {
	n   int
	err error
}

func (f *fakeSender) SendBatch(_ context.Context, frames []netfront.TxFrame) (int, error) {
	f.calls = append(f.calls, frames)
	if len(f.calls) > len(f.answers) {
		return len(frames), nil
	}
	a := f.answers[len(f.calls)-1]
	return min(a.n, len(frames)), a.err
}

func TestSendFramesErrors(t *testing.T) {
	notify := errors.New("evtchn: notify failed")
	for _, c := range []struct {
		name              string
		answers           []fakeAnswer
		sent, errs, calls int
	}{
		{"all go", nil, 4, 0, 1},
		// The frames were queued and pushed, the notification failed: nothing left to skip.
		{"notify fails after all were queued", []fakeAnswer{{4, notify}}, 4, 0, 1},
		// A failure that is not about the next frame: the rest is lost, not retried.
		{"notify fails with frames left (another queue's)", []fakeAnswer{{2, notify}}, 2, 2, 1},
		{"broken device", []fakeAnswer{{1, netfront.ErrBroken}}, 1, 3, 1},
		// A frame netfront can never take is skipped; the others go.
		{"one frame too big", []fakeAnswer{{1, netfront.ErrTooBig}}, 3, 1, 2},
		{"last frame too small", []fakeAnswer{{3, netfront.ErrTooSmall}}, 3, 1, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := NewEndpoint(net.HardwareAddr{0, 0x16, 0x3e, 0, 0, 2}, 0)
			f := &fakeSender{answers: c.answers}
			e.tx = f
			frames := make([]netfront.TxFrame, 4)
			sizes := []int{100, 200, 300, 400}
			assert.NotPanics(t, func() { assert.Equal(t, c.sent, e.sendFrames(frames, sizes)) })
			assert.EqualValues(t, c.errs, e.Stats().TxErrors)
			assert.Len(t, f.calls, c.calls)
		})
	}
}

// refusingLink makes no frame of any packet, as the endpoint does for one it cannot send.
type refusingLink struct{ sent chan int }

func (refusingLink) frame(*txFrameStore, *stack.PacketBuffer) (netfront.TxFrame, int, bool) {
	return netfront.TxFrame{}, 0, false
}

func (l refusingLink) sendFrames(frames []netfront.TxFrame, _ []int) int {
	l.sent <- len(frames)
	return len(frames)
}

// More refused packets than a batch has frames are taken and released, never sent.
func TestTxQueueRefusedPackets(t *testing.T) {
	l := refusingLink{sent: make(chan int, 100)}
	d := newTxQueues(l, 0, 1, LimitsFor(0))
	for range 3 * txBatchFrames {
		pkt := testPacket(header.TCPProtocolNumber, 100)
		assert.Nil(t, d.WritePacket(pkt))
		pkt.DecRef()
	}
	// The queue's goroutine takes them all (a guard against a hang, not a speed test).
	assert.Eventually(t, func() bool { return d.segments.Load() == 0 }, time.Minute, time.Millisecond,
		"every refused packet taken and refunded")
	d.Close()
	assert.Zero(t, len(l.sent), "no frame sent")
}
