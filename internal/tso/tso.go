// Package tso splits a large TCP frame into MSS-sized frames, as Linux's tcp_gso_segment does
// when a GSO packet meets a device without TSO: each segment gets its own IP length (and IPv4
// ID and header checksum), its sequence number, the flags that belong to it, and a TCP
// checksum (complete, or the pseudo-header sum of a partial one).
package tso

import (
	"encoding/binary"
	"errors"

	"github.com/tamaxen/tamaxen/internal/csum"
)

// TCP flags that only some segments keep.
const (
	flagFIN = 0x01
	flagPSH = 0x08
	flagCWR = 0x80
)

// ErrNotTCP is returned for a frame that is not a plain (no IPv6 extension headers,
// unfragmented) TCP frame over Ethernet.
var ErrNotTCP = errors.New("tso: not a segmentable TCP frame")

// Segment calls emit with each segment of frame, cut to mss bytes of payload, in order. buf
// is scratch space reused for every segment (grown when too small) and returned. emit must not
// keep the slice. With partial set, each segment's checksum field holds its pseudo-header sum
// (CHECKSUM_PARTIAL, to be completed by whoever offloads it); otherwise it holds the full
// checksum. A frame with no more than mss bytes of payload is emitted once, its checksum
// treated the same way.
func Segment(frame []byte, mss int, partial bool, buf []byte, emit func([]byte)) ([]byte, error) {
	l, ok := parse(frame)
	if mss <= 0 || !ok {
		return buf, ErrNotTCP
	}
	frame = l.frame
	payload := frame[l.hdrLen:]
	seq := binary.BigEndian.Uint32(frame[l.l4Off+4:])
	flags := frame[l.l4Off+13]
	var id uint16
	if !l.v6 {
		id = binary.BigEndian.Uint16(frame[18:])
	}
	for i, off := 0, 0; off < len(payload) || i == 0; i++ {
		n := min(mss, len(payload)-off)
		buf = append(buf[:0], frame[:l.hdrLen]...)
		buf = append(buf, payload[off:off+n]...)
		f := flags
		if off+n < len(payload) {
			f &^= flagFIN | flagPSH // only the last segment ends the stream or pushes it
		}
		if i > 0 {
			f &^= flagCWR // only the first segment signals a reduced window
		}
		l.fixHeaders(buf, id+uint16(i), seq+uint32(off), f, partial)
		emit(buf)
		off += n
	}
	return buf, nil
}

// layout is where a segmentable frame's headers are.
type layout struct {
	frame        []byte // cut to the length its IP header gives
	ipLen, l4Off int    // the IP header's length; where the TCP header starts
	hdrLen       int    // where the payload starts
	v6           bool
}

// parse finds the headers of a plain TCP frame over Ethernet, IPv4 (unfragmented) or IPv6
// (no extension headers).
func parse(frame []byte) (layout, bool) {
	var l layout
	if len(frame) < 14 {
		return l, false
	}
	switch binary.BigEndian.Uint16(frame[12:]) {
	case 0x0800:
		if len(frame) < 34 || frame[14]>>4 != 4 {
			return l, false
		}
		l.ipLen = int(frame[14]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(frame[16:]))
		if l.ipLen < 20 || frame[23] != 6 || total < l.ipLen || 14+total > len(frame) ||
			binary.BigEndian.Uint16(frame[20:])&0x3fff != 0 {
			return l, false
		}
		l.frame = frame[:14+total]
	case 0x86dd:
		if len(frame) < 54 || frame[14]>>4 != 6 || frame[20] != 6 {
			return l, false
		}
		l.ipLen, l.v6 = 40, true
		plen := int(binary.BigEndian.Uint16(frame[18:]))
		if 54+plen > len(frame) {
			return l, false
		}
		l.frame = frame[:54+plen]
	default:
		return l, false
	}
	l.l4Off = 14 + l.ipLen
	if len(l.frame) < l.l4Off+20 {
		return l, false
	}
	thLen := int(l.frame[l.l4Off+12]>>4) * 4
	if thLen < 20 || len(l.frame) < l.l4Off+thLen {
		return l, false
	}
	l.hdrLen = l.l4Off + thLen
	return l, true
}

// fixHeaders makes seg's copied headers its own: the IP length (and IPv4 ID and header
// checksum), the sequence number, the flags and the TCP checksum.
func (l layout) fixHeaders(seg []byte, id uint16, seq uint32, flags byte, partial bool) {
	ip, tcp := seg[14:], seg[l.l4Off:]
	segLen := len(seg) - l.l4Off
	if l.v6 {
		binary.BigEndian.PutUint16(ip[4:], uint16(segLen))
	} else {
		binary.BigEndian.PutUint16(ip[2:], uint16(l.ipLen+segLen))
		binary.BigEndian.PutUint16(ip[4:], id)
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], csum.Checksum(ip[:l.ipLen], 0))
	}
	binary.BigEndian.PutUint32(tcp[4:], seq)
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[16:], csum.Pseudo(seg))
	if !partial {
		binary.BigEndian.PutUint16(tcp[16:], csum.Checksum(tcp[:segLen], 0))
	}
}
