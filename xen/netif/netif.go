// Package netif is the wire format of Xen's paravirtual network interface (io/netif.h): the
// TX and RX ring requests and responses, their flags, and the extra-info slots that carry GSO
// metadata. Frontend (netfront) and backend models (xen/sim/netback) both use it, so the
// layout is written down once and checked against the header once (xen/abi); so is FlowHash,
// with which both ends of a multi-queue vif pick a frame's queue.
//
// Directions are named from the frontend: TX is guest to backend, RX is backend to guest.
//
// Protocol traps, where they bite:
//   - RX flags are not TX flags: data_validated and csum_blank swap bits 0 and 1.
//   - The first TX slot's size is the size of the whole packet; later slots carry their own.
//   - An extra-info slot takes the place of a request (TX) or response (RX) in the ring and
//     gets a NETIF_RSP_NULL response on TX.
package netif

import "encoding/binary"

// Ring slot sizes: a slot is the union of request and response.
const (
	TxSlotSize = 12 // max(sizeof(netif_tx_request) 12, sizeof(netif_tx_response) 4)
	RxSlotSize = 8  // max(sizeof(netif_rx_request) 8, sizeof(netif_rx_response) 8)

	SizeofTxRequest  = 12
	SizeofTxResponse = 4
	SizeofRxRequest  = 8
	SizeofRxResponse = 8
	SizeofExtraInfo  = 8
)

// TX request flags (NETTXF_*; XEN_NETTXF_* in newer headers).
const (
	NETTXF_csum_blank     = 1 << 0 // checksum to be filled in by the backend (partial csum)
	NETTXF_data_validated = 1 << 1 // checksum already validated
	NETTXF_more_data      = 1 << 2 // the packet continues in the next slot
	NETTXF_extra_info     = 1 << 3 // the next slot is an extra-info slot
)

// RX response flags (NETRXF_*). Note the swap of bits 0 and 1 relative to TX.
const (
	NETRXF_data_validated = 1 << 0
	NETRXF_csum_blank     = 1 << 1
	NETRXF_more_data      = 1 << 2
	NETRXF_extra_info     = 1 << 3
	NETRXF_gso_prefix     = 1 << 4
)

// Extra-info types and flags.
const (
	XEN_NETIF_EXTRA_TYPE_NONE      = 0
	XEN_NETIF_EXTRA_TYPE_GSO       = 1
	XEN_NETIF_EXTRA_TYPE_MCAST_ADD = 2
	XEN_NETIF_EXTRA_TYPE_MCAST_DEL = 3
	XEN_NETIF_EXTRA_TYPE_HASH      = 4
	XEN_NETIF_EXTRA_TYPE_MAX       = 5
	XEN_NETIF_EXTRA_FLAG_MORE      = 1 << 0

	XEN_NETIF_GSO_TYPE_NONE  = 0
	XEN_NETIF_GSO_TYPE_TCPV4 = 1
	XEN_NETIF_GSO_TYPE_TCPV6 = 2
)

// Response status values.
const (
	NETIF_RSP_DROPPED = -2
	NETIF_RSP_ERROR   = -1
	NETIF_RSP_OKAY    = 0
	NETIF_RSP_NULL    = 1 // the response to an extra-info slot
)

// Limits.
const (
	XEN_NETIF_MAX_TX_SIZE = 0xFFFF
	// XEN_NETIF_NR_SLOTS_MIN is the number of slots every backend accepts in one packet; a
	// frontend must not use more (Linux netfront linearises or drops such packets).
	XEN_NETIF_NR_SLOTS_MIN = 18
	// ETH_HLEN is the smallest first TX slot Linux netback accepts.
	ETH_HLEN = 14
)

// TxRequest is struct netif_tx_request.
type TxRequest struct {
	Gref   uint32
	Offset uint16
	Flags  uint16
	ID     uint16
	Size   uint16
}

// Encode writes r into a ring slot.
func (r *TxRequest) Encode(b []byte) {
	_ = b[SizeofTxRequest-1]
	binary.LittleEndian.PutUint32(b[0:], r.Gref)
	binary.LittleEndian.PutUint16(b[4:], r.Offset)
	binary.LittleEndian.PutUint16(b[6:], r.Flags)
	binary.LittleEndian.PutUint16(b[8:], r.ID)
	binary.LittleEndian.PutUint16(b[10:], r.Size)
}

// Decode reads r from a ring slot.
func (r *TxRequest) Decode(b []byte) {
	_ = b[SizeofTxRequest-1]
	r.Gref = binary.LittleEndian.Uint32(b[0:])
	r.Offset = binary.LittleEndian.Uint16(b[4:])
	r.Flags = binary.LittleEndian.Uint16(b[6:])
	r.ID = binary.LittleEndian.Uint16(b[8:])
	r.Size = binary.LittleEndian.Uint16(b[10:])
}

// TxResponse is struct netif_tx_response.
type TxResponse struct {
	ID     uint16
	Status int16
}

// Encode writes r into a ring slot.
func (r *TxResponse) Encode(b []byte) {
	_ = b[SizeofTxResponse-1]
	binary.LittleEndian.PutUint16(b[0:], r.ID)
	binary.LittleEndian.PutUint16(b[2:], uint16(r.Status))
}

// Decode reads r from a ring slot.
func (r *TxResponse) Decode(b []byte) {
	_ = b[SizeofTxResponse-1]
	r.ID = binary.LittleEndian.Uint16(b[0:])
	r.Status = int16(binary.LittleEndian.Uint16(b[2:]))
}

// RxRequest is struct netif_rx_request.
type RxRequest struct {
	ID   uint16
	Gref uint32
}

// Encode writes r into a ring slot.
func (r *RxRequest) Encode(b []byte) {
	_ = b[SizeofRxRequest-1]
	binary.LittleEndian.PutUint16(b[0:], r.ID)
	binary.LittleEndian.PutUint16(b[2:], 0)
	binary.LittleEndian.PutUint32(b[4:], r.Gref)
}

// Decode reads r from a ring slot.
func (r *RxRequest) Decode(b []byte) {
	_ = b[SizeofRxRequest-1]
	r.ID = binary.LittleEndian.Uint16(b[0:])
	r.Gref = binary.LittleEndian.Uint32(b[4:])
}

// RxResponse is struct netif_rx_response. Status is the data size when positive.
type RxResponse struct {
	ID     uint16
	Offset uint16
	Flags  uint16
	Status int16
}

// Encode writes r into a ring slot.
func (r *RxResponse) Encode(b []byte) {
	_ = b[SizeofRxResponse-1]
	binary.LittleEndian.PutUint16(b[0:], r.ID)
	binary.LittleEndian.PutUint16(b[2:], r.Offset)
	binary.LittleEndian.PutUint16(b[4:], r.Flags)
	binary.LittleEndian.PutUint16(b[6:], uint16(r.Status))
}

// Decode reads r from a ring slot.
func (r *RxResponse) Decode(b []byte) {
	_ = b[SizeofRxResponse-1]
	r.ID = binary.LittleEndian.Uint16(b[0:])
	r.Offset = binary.LittleEndian.Uint16(b[2:])
	r.Flags = binary.LittleEndian.Uint16(b[4:])
	r.Status = int16(binary.LittleEndian.Uint16(b[6:]))
}

// ExtraInfo is struct netif_extra_info with its GSO member decoded (the only type a netfront
// sends or accepts; others are reported by Type for the caller to reject or skip).
type ExtraInfo struct {
	Type  uint8
	Flags uint8
	// GSO fields (Type == XEN_NETIF_EXTRA_TYPE_GSO).
	GSOSize     uint16
	GSOType     uint8
	GSOPad      uint8
	GSOFeatures uint16
}

// Encode writes e into a ring slot (8 bytes; the rest of a TX slot is left as is).
func (e *ExtraInfo) Encode(b []byte) {
	_ = b[SizeofExtraInfo-1]
	b[0] = e.Type
	b[1] = e.Flags
	binary.LittleEndian.PutUint16(b[2:], e.GSOSize)
	b[4] = e.GSOType
	b[5] = e.GSOPad
	binary.LittleEndian.PutUint16(b[6:], e.GSOFeatures)
}

// Decode reads e from a ring slot.
func (e *ExtraInfo) Decode(b []byte) {
	_ = b[SizeofExtraInfo-1]
	e.Type = b[0]
	e.Flags = b[1]
	e.GSOSize = binary.LittleEndian.Uint16(b[2:])
	e.GSOType = b[4]
	e.GSOPad = b[5]
	e.GSOFeatures = binary.LittleEndian.Uint16(b[6:])
}

// More reports whether another extra-info slot follows this one.
func (e *ExtraInfo) More() bool { return e.Flags&XEN_NETIF_EXTRA_FLAG_MORE != 0 }
