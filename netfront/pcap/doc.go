// Package pcap writes the frames crossing netfront to a pcapng capture (draft-ietf-opsawg-pcapng)
// that tshark and Wireshark read.
//
// A capture is one section with one Ethernet interface (LINKTYPE_ETHERNET, nanosecond
// timestamps, if_name set to the vif's name) followed by one Enhanced Packet Block per frame.
// Each block keeps what netfront knows about the frame where the format has a place for it:
//
//   - epb_flags: direction (inbound = received by the guest, outbound = sent by it), and the
//     offload bits: checksum not ready (NETTXF_csum_blank / NETRXF_csum_blank), checksum valid
//     (data_validated) and TCP segmentation offloaded (a GSO frame, larger than the wire MTU);
//   - epb_queue: the netfront queue (a TX/RX ring pair) the frame went through;
//   - opt_comment, only when the frame carries offload metadata: the same facts plus the GSO
//     type and MSS, which have no field of their own, e.g.
//     "queue=1 gso=tcpv4 mss=1448 csum=partial". Readers that predate the offload flag bits
//     still show the comment.
//
// Writing a frame does not allocate: block headers and options are built in a buffer owned by
// the Writer, and frames go through a bufio.Writer. A Writer is safe for concurrent use, so the
// RX and TX paths of every queue can share one.
//
// Portable: it uses only the standard library and package netif's constants, and runs on the
// TamaGo board and on a host alike.
package pcap
