//go:build tamago && amd64

// A minimal ARP, ICMP echo and UDP echo responder over raw Ethernet frames.

package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/tamaxen/tamaxen/internal/csum"
	"github.com/tamaxen/tamaxen/netfront"
)

type responder struct {
	ip       [4]byte
	mac      atomic.Pointer[[6]byte] // a re-attached vif may bring another MAC
	dev      atomic.Pointer[netfront.Device]
	answered atomic.Uint64
}

func (r *responder) setMAC(m []byte) {
	if len(m) == 6 {
		a := [6]byte(m)
		r.mac.Store(&a)
	}
}

// receive is netfront's Receive callback: frame is valid only during the call.
func (r *responder) receive(frame []byte, m netfront.RxMeta) {
	dev := r.dev.Load()
	if dev == nil || len(frame) < 14 {
		return
	}
	switch binary.BigEndian.Uint16(frame[12:]) {
	case 0x0806:
		r.arp(dev, frame)
	case 0x0800:
		r.ipv4(dev, frame, m)
	}
}

func (r *responder) arp(dev *netfront.Device, f []byte) {
	a := f[14:]
	// Ethernet/IPv4 request for our address.
	if len(a) < 28 || binary.BigEndian.Uint16(a[6:]) != 1 || [4]byte(a[24:28]) != r.ip {
		return
	}
	out := make([]byte, 42)
	copy(out[0:6], f[6:12])
	copy(out[6:12], r.mac.Load()[:])
	binary.BigEndian.PutUint16(out[12:], 0x0806)
	o := out[14:]
	copy(o[0:6], a[0:6]) // htype, ptype, hlen, plen
	binary.BigEndian.PutUint16(o[6:], 2)
	copy(o[8:14], r.mac.Load()[:])
	copy(o[14:18], r.ip[:])
	copy(o[18:24], a[8:14])
	copy(o[24:28], a[14:18])
	r.send(dev, out, netfront.TxMeta{})
}

func (r *responder) ipv4(dev *netfront.Device, f []byte, m netfront.RxMeta) {
	ip := f[14:]
	if len(ip) < 20 || ip[0]>>4 != 4 || [4]byte(ip[16:20]) != r.ip {
		return
	}
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if ihl < 20 || total < ihl || total > len(ip) {
		return
	}
	payload := ip[ihl:total]
	var reply []byte
	switch ip[9] {
	case 1: // ICMP echo request -> reply
		if len(payload) < 8 || payload[0] != 8 {
			return
		}
		reply = r.ipReply(f, ihl, total)
		icmp := reply[14+ihl:]
		icmp[0] = 0
		binary.BigEndian.PutUint16(icmp[2:], 0)
		binary.BigEndian.PutUint16(icmp[2:], csum.Checksum(icmp, 0))
	case 17: // UDP echo on port 7
		if len(payload) < 8 || binary.BigEndian.Uint16(payload[2:]) != 7 {
			return
		}
		reply = r.ipReply(f, ihl, total)
		udp := reply[14+ihl:]
		sp, dp := binary.BigEndian.Uint16(udp[0:]), binary.BigEndian.Uint16(udp[2:])
		binary.BigEndian.PutUint16(udp[0:], dp)
		binary.BigEndian.PutUint16(udp[2:], sp)
		// A zero UDP checksum means "none" over IPv4; the request's may have been partial
		// (m.CsumBlank) and is not worth completing for an echo.
		binary.BigEndian.PutUint16(udp[6:], 0)
	default:
		return
	}
	r.send(dev, reply, netfront.TxMeta{})
}

// ipReply copies the frame up to the end of the IP packet with MACs and addresses swapped and
// a fresh IP header checksum.
func (r *responder) ipReply(f []byte, ihl, total int) []byte {
	out := make([]byte, 14+total)
	copy(out, f[:14+total])
	copy(out[0:6], f[6:12])
	copy(out[6:12], r.mac.Load()[:])
	ip := out[14:]
	copy(ip[12:16], r.ip[:])        // from us
	copy(ip[16:20], f[14+12:14+16]) // to the sender
	ip[8] = 64
	binary.BigEndian.PutUint16(ip[10:], 0)
	binary.BigEndian.PutUint16(ip[10:], csum.Checksum(ip[:ihl], 0))
	return out
}

func (r *responder) send(dev *netfront.Device, frame []byte, m netfront.TxMeta) {
	if err := dev.Send(context.Background(), frame, m); err != nil {
		fmt.Printf("netcheck: send: %v\n", err)
		return
	}
	r.answered.Add(1)
}
