// Prometheus-style metrics of the device, the endpoint, TCP and the Go runtime.

package netstack

import (
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/netfront"
)

// WriteMetrics writes the stack's counters in Prometheus' text format: per-queue netfront
// statistics, negotiated features, the endpoint's offload counters, TCP's, grant references
// and heap in use. It is the accounting every test uses to assert that nothing leaked.
func (s *Stack) WriteMetrics(w io.Writer) error {
	mw := &metricWriter{w: w}
	stats := s.dev.Stats()
	writeQueueCounters(mw, stats)
	writeQueueCauses(mw, stats)
	writeQueueGauges(mw, stats)
	s.writeDevice(mw)
	s.writeEndpoint(mw)
	s.ep.txGSOSizes.write(mw)
	s.writeProtocols(mw)
	s.writeRuntime(mw)
	s.writeTimeline(mw)
	return mw.err
}

// writeQueueCounters writes netfront's frames, bytes and GSO frames per queue and direction.
func writeQueueCounters(mw *metricWriter, stats []netfront.QueueStats) {
	type qmetric struct {
		name, help string
		tx, rx     func(q netfront.QueueStats) uint64
	}
	for _, m := range []qmetric{
		{"tamaxen_netfront_packets_total", "Frames through netfront.", func(q netfront.QueueStats) uint64 { return q.TxPackets }, func(q netfront.QueueStats) uint64 { return q.RxPackets }},
		{"tamaxen_netfront_bytes_total", "Bytes through netfront.", func(q netfront.QueueStats) uint64 { return q.TxBytes }, func(q netfront.QueueStats) uint64 { return q.RxBytes }},
		{"tamaxen_netfront_gso_packets_total", "Frames carrying several TCP segments (TSO/GSO).", func(q netfront.QueueStats) uint64 { return q.TxGSO }, func(q netfront.QueueStats) uint64 { return q.RxGSO }},
	} {
		mw.header(m.name, "counter", m.help)
		for i, q := range stats {
			mw.value(m.name, m.tx(q), "queue", strconv.Itoa(i), "dir", "tx")
			mw.value(m.name, m.rx(q), "queue", strconv.Itoa(i), "dir", "rx")
		}
	}
}

// writeQueueCauses writes netfront's errors and drops per queue by cause; summed over cause
// they are the per-direction totals.
func writeQueueCauses(mw *metricWriter, stats []netfront.QueueStats) {
	type cause struct {
		dir, cause string
		get        func(q netfront.QueueStats) uint64
	}
	for _, m := range []struct {
		name, help string
		causes     []cause
	}{
		{"tamaxen_netfront_errors_total", "Frames failed: the backend's error status (TX), error responses (RX, backend), a GSO extra of unknown type or zero size (RX, bad_gso).", []cause{
			{"tx", "backend", func(q netfront.QueueStats) uint64 { return q.TxErrors }},
			{"rx", "backend", func(q netfront.QueueStats) uint64 { return sub(q.RxErrors, q.RxBadGSO) }},
			{"rx", "bad_gso", func(q netfront.QueueStats) uint64 { return q.RxBadGSO }},
		}},
		{"tamaxen_netfront_dropped_total", "Frames dropped: no ring space before the sender's deadline (TX, deadline), more slots than a backend takes (TX, too_big), shorter than an Ethernet header (RX, runt).", []cause{
			{"tx", "deadline", func(q netfront.QueueStats) uint64 { return q.TxTimeouts }},
			{"tx", "too_big", func(q netfront.QueueStats) uint64 { return sub(q.TxDropped, q.TxTimeouts) }},
			{"rx", "runt", func(q netfront.QueueStats) uint64 { return q.RxDropped }},
		}},
	} {
		mw.header(m.name, "counter", m.help)
		for i, q := range stats {
			for _, c := range m.causes {
				mw.value(m.name, c.get(q), "queue", strconv.Itoa(i), "dir", c.dir, "cause", c.cause)
			}
		}
	}
}

// writeQueueGauges writes netfront's other per-queue counters and its ring occupancy.
func writeQueueGauges(mw *metricWriter, stats []netfront.QueueStats) {
	type one struct {
		name, kind, help string
		get              func(q netfront.QueueStats) uint64
	}
	for _, m := range []one{
		{"tamaxen_netfront_rx_csum_blank_total", "counter", "Frames received with a partial checksum.", func(q netfront.QueueStats) uint64 { return q.RxCsumBlank }},
		{"tamaxen_netfront_violations_total", "counter", "Backend protocol violations (each breaks the device).", func(q netfront.QueueStats) uint64 { return q.Violations }},
		{"tamaxen_netfront_rx_over_slots_total", "counter", "Received frames dropped for taking more ring slots than a backend may use.", func(q netfront.QueueStats) uint64 { return q.RxOverSlots }},
		{"tamaxen_netfront_spurious_events_total", "counter", "Event wakeups that found no new response (a backend notifying for nothing).", func(q netfront.QueueStats) uint64 { return q.Spurious }},
		{"tamaxen_netfront_throttled_total", "counter", "Pauses taken because spurious wakeups came in a row (XSA-332).", func(q netfront.QueueStats) uint64 { return q.Throttled }},
		{"tamaxen_netfront_tx_polled_total", "counter", "TX completions a waiting sender found by polling, not by an event.", func(q netfront.QueueStats) uint64 { return q.TxPolled }},
		{"tamaxen_netfront_tx_inflight", "gauge", "TX slots awaiting the backend's response.", func(q netfront.QueueStats) uint64 { return q.TxInFlight }},
		{"tamaxen_netfront_rx_posted", "gauge", "RX buffers posted to the backend.", func(q netfront.QueueStats) uint64 { return q.RxPosted }},
	} {
		mw.header(m.name, m.kind, m.help)
		for i, q := range stats {
			mw.value(m.name, m.get(q), "queue", strconv.Itoa(i))
		}
	}
}

// writeDevice writes the device's state and the features negotiated with its backend.
func (s *Stack) writeDevice(mw *metricWriter) {
	mw.header("tamaxen_netfront_reconnects_total", "counter", "Connections to a new backend after the first.")
	mw.value("tamaxen_netfront_reconnects_total", s.dev.Reconnects())
	mw.header("tamaxen_netfront_broken", "gauge", "1 once the device stopped for good (protocol violation or close).")
	mw.value("tamaxen_netfront_broken", b2u(s.dev.Err() != nil))
	mw.header("tamaxen_netfront_connected", "gauge", "1 while connected to a backend (0 between a backend closing and the reconnection).")
	mw.value("tamaxen_netfront_connected", b2u(s.dev.MAC() != nil))
	f := s.dev.Features()
	mw.header("tamaxen_netfront_feature", "gauge", "Features negotiated with the backend.")
	for _, ft := range []struct {
		name string
		on   bool
	}{{"rx-copy", f.RxCopy}, {"sg", f.SG}, {"gso-tcpv4", f.GSOTCPv4}, {"gso-tcpv6", f.GSOTCPv6},
		{"csum-offload", f.CsumOffload}, {"ipv6-csum-offload", f.IPv6CsumOffload},
		{"split-event-channels", f.SplitEventChannels}, {"rx-notify", f.RxNotify}} {
		mw.value("tamaxen_netfront_feature", b2u(ft.on), "name", ft.name)
	}
	mw.header("tamaxen_netfront_queues", "gauge", "Queues in use.")
	mw.value("tamaxen_netfront_queues", uint64(f.Queues))
}

// writeEndpoint writes the link endpoint's offload counters and drops, what the limits let in
// and the limits themselves.
func (s *Stack) writeEndpoint(mw *metricWriter) {
	e := s.ep.Stats()
	for _, m := range []struct {
		name, help string
		v          uint64
	}{
		{"tamaxen_netstack_tx_csum_offload_total", "Frames sent with the checksum left to the backend.", e.TxCsumOffload},
		{"tamaxen_netstack_tx_csum_software_total", "Checksums computed in the guest for lack of offload.", e.TxCsumSoftware},
		{"tamaxen_netstack_tx_gso_total", "TCP segments of several MSS handed to netfront.", e.TxGSO},
		{"tamaxen_netstack_tx_gso_bytes_total", "Bytes in those segments.", e.TxGSOBytes},
		{"tamaxen_netstack_rx_validated_total", "Frames whose checksum the backend vouched for.", e.RxValidated},
		{"tamaxen_netstack_rx_gso_total", "Received frames carrying several TCP segments.", e.RxGSO},
		{"tamaxen_netstack_rx_bad_checksum_total", "Received frames dropped for a bad checksum.", e.RxBadChecksum},
		{"tamaxen_netstack_rx_unchecked_total", "Received IP frames whose checksum could not be judged alone (fragments, IPv6 routing headers), left for the stack to verify after reassembly.", e.RxUnchecked},
	} {
		mw.header(m.name, "counter", m.help)
		mw.value(m.name, m.v)
	}
	mw.header("tamaxen_netstack_tx_errors_total", "counter", "Packets not sent: a checksum or segmentation the endpoint cannot express (unsupported), refused by the device (device).")
	mw.value("tamaxen_netstack_tx_errors_total", e.TxUnsupported, "cause", "unsupported")
	mw.value("tamaxen_netstack_tx_errors_total", sub(e.TxErrors, e.TxUnsupported), "cause", "device")
	mw.header("tamaxen_netstack_rx_frag_dropped_total", "counter", "IP fragments dropped over the reassembly memory budget.")
	mw.value("tamaxen_netstack_rx_frag_dropped_total", e.RxFragDropped)
	tq := s.TxQueueStats()
	mw.header("tamaxen_netstack_tx_queue_dropped_total", "counter", "Packets the outgoing queue refused for want of room (TCP takes each for a loss): TCP segments carrying payload (segment), the rest (other).")
	mw.value("tamaxen_netstack_tx_queue_dropped_total", tq.SegmentDrops, "class", "segment")
	mw.value("tamaxen_netstack_tx_queue_dropped_total", tq.OtherDrops, "class", "other")
	mw.header("tamaxen_netstack_tx_queue_segments", "gauge", "TCP segments waiting in the outgoing queue (limit: tamaxen_limit{name=\"tx_segments\"}).")
	mw.value("tamaxen_netstack_tx_queue_segments", tq.Segments)
	mw.header("tamaxen_netstack_tx_queue_bytes", "gauge", "What the other packets waiting in the outgoing queue are charged (limit: tamaxen_limit{name=\"tx_bytes\"}).")
	mw.value("tamaxen_netstack_tx_queue_bytes", tq.Bytes)
	if ev := s.plat.Events; ev != nil {
		es := ev.Stats()
		mw.header("tamaxen_evtchn_notifications_total", "counter", "Event channel notifications sent to other domains (EVTCHNOP_send): each may wake the backend.")
		mw.value("tamaxen_evtchn_notifications_total", es.Notifies)
		mw.header("tamaxen_evtchn_upcalls_total", "counter", "Event channel upcalls serviced (each may deliver several events).")
		mw.value("tamaxen_evtchn_upcalls_total", es.Upcalls)
		mw.header("tamaxen_evtchn_events_total", "counter", "Event channel wakeups delivered to the guest's waiters.")
		mw.value("tamaxen_evtchn_events_total", es.Events)
	}
	open, lingering, refused := s.admitted()
	mw.header("tamaxen_tcp_accepted_open", "gauge", "Accepted TCP connections open now (limit: tamaxen_limit{name=\"conns\"}).")
	mw.value("tamaxen_tcp_accepted_open", uint64(open))
	mw.header("tamaxen_tcp_accepted_lingering", "gauge", "Accepted TCP connections closed but still holding buffers (limit: the same again).")
	mw.value("tamaxen_tcp_accepted_lingering", uint64(lingering))
	mw.header("tamaxen_tcp_refused_total", "counter", "Connections reset on accept for want of room under the limits.")
	mw.value("tamaxen_tcp_refused_total", refused)
	mw.header("tamaxen_udp_queue_drops_total", "counter", "UDP datagrams dropped for a socket whose queue held its limit of datagrams.")
	mw.value("tamaxen_udp_queue_drops_total", s.udpq.drops.Load())
	mw.header("tamaxen_limit", "gauge", "The limits derived from the guest's memory (docs/reliability.md).")
	for _, l := range []struct {
		name string
		v    uint64
	}{{"memory_bytes", s.limits.Memory}, {"backlog", uint64(s.limits.Backlog)}, {"conns", uint64(s.limits.Conns)},
		{"tcp_buffer_bytes", uint64(s.limits.TCPBuffer)}, {"frag_bytes", uint64(s.limits.FragBytes)},
		{"udp_queue", uint64(s.limits.UDPQueue)}, {"tx_segments", uint64(s.limits.TxSegments)},
		{"tx_bytes", uint64(s.limits.TxBytes)}} {
		mw.value("tamaxen_limit", l.v, "name", l.name)
	}
	mw.header("tamaxen_netstack_rx_dropped_total", "counter", "Received frames not delivered to the stack: another host's unicast (other_host), malformed or no stack attached (malformed).")
	mw.value("tamaxen_netstack_rx_dropped_total", e.RxOtherHost, "cause", "other_host")
	mw.value("tamaxen_netstack_rx_dropped_total", sub(e.RxDropped, e.RxOtherHost), "cause", "malformed")
}

// writeProtocols writes gVisor's TCP, UDP and IP counters.
func (s *Stack) writeProtocols(mw *metricWriter) {
	st := s.S.Stats()
	for _, m := range []struct {
		name, kind, help string
		v                uint64
	}{
		{"tamaxen_tcp_active_opens_total", "counter", "TCP connections opened by the guest.", st.TCP.ActiveConnectionOpenings.Value()},
		{"tamaxen_tcp_passive_opens_total", "counter", "TCP connections accepted.", st.TCP.PassiveConnectionOpenings.Value()},
		{"tamaxen_tcp_established", "gauge", "TCP connections established now.", st.TCP.CurrentEstablished.Value()},
		{"tamaxen_tcp_retransmits_total", "counter", "TCP segments retransmitted.", st.TCP.Retransmits.Value()},
		{"tamaxen_tcp_checksum_errors_total", "counter", "TCP segments with a bad checksum.", st.TCP.ChecksumErrors.Value()},
		{"tamaxen_udp_checksum_errors_total", "counter", "UDP datagrams with a bad checksum.", st.UDP.ChecksumErrors.Value()},
		{"tamaxen_udp_receive_buffer_errors_total", "counter", "UDP datagrams dropped for a full receive buffer.", st.UDP.ReceiveBufferErrors.Value()},
		{"tamaxen_ip_malformed_total", "counter", "IP packets dropped as malformed.", st.IP.MalformedPacketsReceived.Value()},
		{"tamaxen_tcp_syn_cookies_total", "counter", "SYN cookies sent: half-open connections past the backlog, kept stateless.", st.TCP.ListenOverflowSynCookieSent.Value()},
		{"tamaxen_tcp_syn_overflow_drops_total", "counter", "SYNs dropped with the accept queue full.", st.TCP.ListenOverflowSynDrop.Value()},
		{"tamaxen_tcp_connected", "gauge", "TCP connections in any connected state, TIME-WAIT included.", st.TCP.CurrentConnected.Value()},
		{"tamaxen_ip_malformed_fragments_total", "counter", "IP fragments dropped as malformed (overlapping, oversized).", st.IP.MalformedFragmentsReceived.Value()},
	} {
		mw.header(m.name, m.kind, m.help)
		mw.value(m.name, m.v)
	}
}

// writeRuntime writes the grant references in use, where the CPU went, goroutines and heap.
func (s *Stack) writeRuntime(mw *metricWriter) {
	if g := s.plat.Grants; g != nil {
		mw.header("tamaxen_gnttab_refs_in_use", "gauge", "Grant references in use by the guest.")
		mw.value("tamaxen_gnttab_refs_in_use", uint64(g.InUse()))
	}
	// Where the CPU went: on TamaGo "idle" is the time the scheduler spent halted in the
	// board's idle hook, so user/total is the datapath's (and the application's) CPU load.
	cpu := [...]metrics.Sample{
		{Name: "/cpu/classes/user:cpu-seconds"},
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/idle:cpu-seconds"},
		{Name: "/cpu/classes/scavenge/total:cpu-seconds"},
		{Name: "/cpu/classes/total:cpu-seconds"},
	}
	metrics.Read(cpu[:])
	mw.header("go_cpu_classes_seconds_total", "counter", "CPU time by class (runtime/metrics /cpu/classes), estimated by the Go runtime.")
	for i, class := range [...]string{"user", "gc", "idle", "scavenge", "total"} {
		if cpu[i].Value.Kind() == metrics.KindFloat64 {
			mw.float("go_cpu_classes_seconds_total", cpu[i].Value.Float64(), "class", class)
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mw.header("go_goroutines", "gauge", "Goroutines.")
	mw.value("go_goroutines", uint64(runtime.NumGoroutine()))
	mw.header("go_memstats_heap_inuse_bytes", "gauge", "Heap in use.")
	mw.value("go_memstats_heap_inuse_bytes", ms.HeapInuse)
	mw.header("go_memstats_heap_alloc_bytes", "gauge", "Heap objects' bytes.")
	mw.value("go_memstats_heap_alloc_bytes", ms.HeapAlloc)
}

// gsoBounds are the upper bounds (bytes, inclusive) of the TSO frame size buckets but the
// last, which takes the rest (up to the 64 KiB a frame may hold); gsoLabels name them all.
var (
	gsoBounds = [...]int{8 << 10, 16 << 10, 32 << 10, 48 << 10, 60 << 10}
	gsoLabels = [...]string{"8k", "16k", "32k", "48k", "60k", "64k"}
)

// gsoSizes counts the TSO frames handed to netfront by size, in fixed buckets: how far the
// stack fills the 64 KiB a frame may carry. Counted on the datapath: atomic, no allocation.
type gsoSizes struct {
	n [len(gsoLabels)]atomic.Uint64
}

// observe counts one frame of size bytes.
func (h *gsoSizes) observe(size int) {
	i := 0
	for i < len(gsoBounds) && size > gsoBounds[i] {
		i++
	}
	h.n[i].Add(1)
}

// write writes one counter per bucket, labelled with its upper bound.
func (h *gsoSizes) write(mw *metricWriter) {
	const name = "tamaxen_netstack_tx_gso_by_size_total"
	mw.header(name, "counter", "TSO frames handed to netfront by size: size=\"16k\" counts those of more than 8 KiB and at most 16 KiB.")
	for i := range h.n {
		mw.value(name, h.n[i].Load(), "size", gsoLabels[i])
	}
}

// sub is a - b for a total and a part of it read at different moments: a part counted after
// its total was read may exceed it for an instant.
func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

type metricWriter struct {
	w   io.Writer
	err error
}

func (m *metricWriter) header(name, kind, help string) {
	if m.err == nil {
		_, m.err = fmt.Fprintf(m.w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
	}
}

// value writes one sample; labels are name, value pairs.
func (m *metricWriter) value(name string, v uint64, labels ...string) {
	if m.err != nil {
		return
	}
	m.write(strconv.AppendUint(m.labels(name, labels), v, 10))
}

// float writes one sample with a fractional value.
func (m *metricWriter) float(name string, v float64, labels ...string) {
	if m.err != nil {
		return
	}
	m.write(strconv.AppendFloat(m.labels(name, labels), v, 'g', -1, 64))
}

func (m *metricWriter) write(b []byte) {
	b = append(b, '\n')
	_, m.err = m.w.Write(b)
}

// labels returns the sample's name with its labels and the separating space.
func (m *metricWriter) labels(name string, labels []string) []byte {
	b := []byte(name)
	for i := 0; i+1 < len(labels); i += 2 {
		if i == 0 {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(b, labels[i]...)
		b = append(b, '=')
		b = strconv.AppendQuote(b, labels[i+1])
	}
	if len(labels) > 0 {
		b = append(b, '}')
	}
	return append(b, ' ')
}

// Summary is one line of the counters that tell whether traffic flows and nothing leaks, for
// a console: netfront's totals over queues, ring occupancy, the endpoint's offloads, TCP
// retransmissions, grant references, goroutines and heap.
func (s *Stack) Summary() string {
	var t netfront.QueueStats
	for _, q := range s.dev.Stats() {
		t.TxPackets += q.TxPackets
		t.TxBytes += q.TxBytes
		t.TxGSO += q.TxGSO
		t.TxErrors += q.TxErrors
		t.TxDropped += q.TxDropped
		t.TxInFlight += q.TxInFlight
		t.RxPackets += q.RxPackets
		t.RxBytes += q.RxBytes
		t.RxGSO += q.RxGSO
		t.RxErrors += q.RxErrors
		t.RxDropped += q.RxDropped
		t.RxPosted += q.RxPosted
		t.Violations += q.Violations
		t.TxPolled += q.TxPolled
	}
	e := s.ep.Stats()
	st := s.S.Stats()
	grants := -1
	if s.plat.Grants != nil {
		grants = s.plat.Grants.InUse()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return fmt.Sprintf("tx %d pkts %d B gso %d err %d drop %d inflight %d polled %d | rx %d pkts %d B gso %d err %d drop %d posted %d | "+
		"csum-offload %d sw %d rx-badcsum %d txerr %d | tcp est %d retrans %d | violations %d reconnects %d | grants %d goroutines %d heap %d KiB",
		t.TxPackets, t.TxBytes, t.TxGSO, t.TxErrors, t.TxDropped, t.TxInFlight, t.TxPolled,
		t.RxPackets, t.RxBytes, t.RxGSO, t.RxErrors, t.RxDropped, t.RxPosted,
		e.TxCsumOffload, e.TxCsumSoftware, e.RxBadChecksum, e.TxErrors,
		st.TCP.CurrentEstablished.Value(), st.TCP.Retransmits.Value(), t.Violations, s.dev.Reconnects(),
		grants, runtime.NumGoroutine(), ms.HeapInuse>>10)
}
