// The outgoing queue under a backend that falls behind.

package netstack_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tamaxen/tamaxen/netfront"
	"github.com/tamaxen/tamaxen/xen/sim/netback"
)

// A slow backend under a bulk TCP download: netback stops for 10 ms every 10 ms, so the ACKs
// it held arrive together and TCP's answering burst piles up in the guest's outgoing queue. TCP can never
// have more in flight than its send buffer, and the queue holds that much, so it drops
// nothing and TCP never mistakes its own queue for a lossy network (each such loss would
// cost a retransmission, and a run of them doubling timeouts). Counted, not timed.
func TestTxQueueSlowBackendDropsNothing(t *testing.T) {
	// No offloads: every segment is a frame of its own, the most packets per byte.
	r := newRig(t, "ip=10.0.0.2/24", nil, netfront.Config{NoGSO: true, NoCsumOffload: true})
	l, err := r.guest.Listen("tcp", ":80")
	require.NoError(t, err)
	serveHTTP(t, l)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer r.m.Backend.SetFault(netback.FaultNone)
		for {
			r.m.Backend.SetFault(netback.FaultStall)
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			r.m.Backend.SetFault(netback.FaultNone)
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	r.download(t, 8<<20, func() {})
	close(stop)
	wg.Wait()

	m := readMetrics(t, r.guest)
	t.Logf("guest retransmits %v, queue drops %v, segments failed %v",
		m.sum("tamaxen_tcp_retransmits_total"), m.sum("tamaxen_netstack_tx_queue_dropped_total"), r.guest.S.Stats().TCP.SegmentSendErrors.Value())
	assert.Zero(t, m.sum("tamaxen_netstack_tx_queue_dropped_total"), "packets the guest's own queue dropped")
	assert.Zero(t, r.guest.S.Stats().NICs.TxPacketsDroppedNoBufferSpace.Value(), "packets the guest's own queue dropped")
	assert.Zero(t, r.guest.S.Stats().TCP.SegmentSendErrors.Value(), "TCP segments the guest failed to send")
	require.Eventually(t, func() bool {
		m := readMetrics(t, r.guest)
		return m.sum("tamaxen_netstack_tx_queue_segments") == 0 && m.sum("tamaxen_netstack_tx_queue_bytes") == 0
	}, 10*time.Second, time.Millisecond, "the outgoing queue does not come to rest")
}
