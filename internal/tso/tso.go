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
	if mss <= 0 || len(frame) < 14 {
		return buf, ErrNotTCP
	}
	var ipLen, l4Off int
	v6 := false
	switch binary.BigEndian.Uint16(frame[12:]) {
	case 0x0800:
		if len(frame) < 34 || frame[14]>>4 != 4 {
			return buf, ErrNotTCP
		}
		ipLen = int(frame[14]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(frame[16:]))
		if ipLen < 20 || frame[23] != 6 || total < ipLen || 14+total > len(frame) ||
			binary.BigEndian.Uint16(frame[20:])&0x3fff != 0 {
			return buf, ErrNotTCP
		}
		frame = frame[:14+total]
	case 0x86dd:
		if len(frame) < 54 || frame[14]>>4 != 6 || frame[20] != 6 {
			return buf, ErrNotTCP
		}
		ipLen, v6 = 40, true
		plen := int(binary.BigEndian.Uint16(frame[18:]))
		if 54+plen > len(frame) {
			return buf, ErrNotTCP
		}
		frame = frame[:54+plen]
	default:
		return buf, ErrNotTCP
	}
	l4Off = 14 + ipLen
	if len(frame) < l4Off+20 {
		return buf, ErrNotTCP
	}
	thLen := int(frame[l4Off+12]>>4) * 4
	if thLen < 20 || len(frame) < l4Off+thLen {
		return buf, ErrNotTCP
	}
	hdrLen := l4Off + thLen
	payload := frame[hdrLen:]
	seq := binary.BigEndian.Uint32(frame[l4Off+4:])
	flags := frame[l4Off+13]
	var id uint16
	if !v6 {
		id = binary.BigEndian.Uint16(frame[18:])
	}
	for i, off := 0, 0; off < len(payload) || i == 0; i++ {
		n := min(mss, len(payload)-off)
		last := off+n >= len(payload)
		buf = append(buf[:0], frame[:hdrLen]...)
		buf = append(buf, payload[off:off+n]...)
		ip, tcp := buf[14:], buf[l4Off:]
		segLen := thLen + n
		if v6 {
			binary.BigEndian.PutUint16(ip[4:], uint16(segLen))
		} else {
			binary.BigEndian.PutUint16(ip[2:], uint16(ipLen+segLen))
			binary.BigEndian.PutUint16(ip[4:], id+uint16(i))
			ip[10], ip[11] = 0, 0
			binary.BigEndian.PutUint16(ip[10:], ^csum.Sum(ip[:ipLen], 0))
		}
		binary.BigEndian.PutUint32(tcp[4:], seq+uint32(off))
		f := flags
		if !last {
			f &^= flagFIN | flagPSH
		}
		if i > 0 {
			f &^= flagCWR
		}
		tcp[13] = f
		pseudo := csum.Pseudo(buf)
		binary.BigEndian.PutUint16(tcp[16:], pseudo)
		if !partial {
			binary.BigEndian.PutUint16(tcp[16:], ^csum.Sum(tcp[:segLen], 0))
		}
		emit(buf)
		off += n
	}
	return buf, nil
}
