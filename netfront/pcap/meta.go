// What a capture records about a frame besides its bytes: direction and offload metadata.

package pcap

import (
	"strconv"

	"github.com/tamaxen/tamaxen/xen/netif"
)

// Direction says which way a frame crossed netfront, from the guest's point of view. Its values
// are the epb_flags direction bits, so a Direction is written as is.
type Direction uint8

const (
	// DirectionUnknown records no direction (epb_flags bits 0-1 = 00).
	DirectionUnknown Direction = 0
	// Inbound frames were received by the guest (netfront RX).
	Inbound Direction = 1
	// Outbound frames were sent by the guest (netfront TX).
	Outbound Direction = 2
)

func (d Direction) String() string {
	switch d {
	case DirectionUnknown:
		return "unknown"
	case Inbound:
		return "inbound"
	case Outbound:
		return "outbound"
	}
	return "Direction(" + strconv.Itoa(int(d)) + ")"
}

// Meta is the netfront metadata of a frame (netfront.RxMeta, or netfront.TxMeta and the queue).
type Meta struct {
	Queue         int
	CsumBlank     bool   // checksum partial (NETTXF_csum_blank / NETRXF_csum_blank)
	DataValidated bool   // checksum known good (NETTXF_data_validated / NETRXF_data_validated)
	GSOType       uint8  // XEN_NETIF_GSO_TYPE_*: 0 none, 1 TCPv4, 2 TCPv6
	GSOSize       uint16 // MSS of a GSO frame
}

// offload reports whether m carries anything beyond the queue, which is what earns a comment.
func (m *Meta) offload() bool {
	return m.CsumBlank || m.DataValidated || m.GSOType != 0 || m.GSOSize != 0
}

// flags are m's epb_flags bits, direction aside.
func (m *Meta) flags() uint32 {
	var f uint32
	// A partial checksum is not a valid one as captured, even when the data behind it was
	// validated (Xen sets data_validated along with csum_blank), so the two bits exclude
	// each other; the comment keeps both facts.
	switch {
	case m.CsumBlank:
		f |= epbFlagCsumNotReady
	case m.DataValidated:
		f |= epbFlagCsumValid
	}
	if m.GSOType != netif.XEN_NETIF_GSO_TYPE_NONE {
		f |= epbFlagTSO
	}
	return f
}

// appendComment appends m as "queue=1 gso=tcpv4 mss=1448 csum=partial" without allocating
// when b has room: the GSO type by name (its number if unknown), the MSS if set, and the
// checksum state as partial, validated or partial,validated.
func (m *Meta) appendComment(b []byte) []byte {
	b = append(b, "queue="...)
	b = strconv.AppendInt(b, int64(m.Queue), 10)
	switch m.GSOType {
	case netif.XEN_NETIF_GSO_TYPE_NONE:
	case netif.XEN_NETIF_GSO_TYPE_TCPV4:
		b = append(b, " gso=tcpv4"...)
	case netif.XEN_NETIF_GSO_TYPE_TCPV6:
		b = append(b, " gso=tcpv6"...)
	default:
		b = append(b, " gso="...)
		b = strconv.AppendUint(b, uint64(m.GSOType), 10)
	}
	if m.GSOSize != 0 {
		b = append(b, " mss="...)
		b = strconv.AppendUint(b, uint64(m.GSOSize), 10)
	}
	switch {
	case m.CsumBlank && m.DataValidated:
		b = append(b, " csum=partial,validated"...)
	case m.CsumBlank:
		b = append(b, " csum=partial"...)
	case m.DataValidated:
		b = append(b, " csum=validated"...)
	}
	return b
}
