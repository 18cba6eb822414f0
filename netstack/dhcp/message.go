// The DHCP message of RFC 2131 section 2, with the options of RFC 2132 this package uses.

package dhcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
)

// BOOTP operation codes (op).
const (
	bootRequest = 1
	bootReply   = 2
)

// Layout of the fixed part of a message (RFC 2131 figure 1). The options follow the magic
// cookie; sname and file may carry options too when option 52 says so.
const (
	offOp      = 0
	offHtype   = 1
	offHlen    = 2
	offXid     = 4
	offSecs    = 8
	offFlags   = 10
	offCiaddr  = 12
	offYiaddr  = 16
	offSiaddr  = 20
	offGiaddr  = 24
	offChaddr  = 28 // 16 bytes, of which Ethernet uses 6
	offSname   = 44 // 64 bytes
	offFile    = 108
	offCookie  = 236
	offOptions = 240

	lenSname = 64
	lenFile  = 128

	htypeEthernet = 1 // ARP hardware type (RFC 1700)
	hlenEthernet  = 6

	// minBOOTPLen pads messages we send: RFC 1542 section 2.1 notes that some relays and
	// servers drop BOOTP messages shorter than 300 bytes.
	minBOOTPLen = 300

	// flagBroadcast asks the server to broadcast its reply (RFC 2131 section 4.1).
	flagBroadcast = 0x8000
)

var magicCookie = [4]byte{99, 130, 83, 99}

// Option codes (RFC 2132).
const (
	optPad          = 0
	optSubnetMask   = 1
	optRouter       = 3
	optDNS          = 6
	optHostname     = 12
	optRequestedIP  = 50
	optLeaseTime    = 51
	optOverload     = 52
	optMessageType  = 53
	optServerID     = 54
	optParamRequest = 55
	optClientID     = 61
	optEnd          = 255
)

// msgType is the DHCP message type of option 53.
type msgType uint8

const (
	msgDiscover msgType = 1
	msgOffer    msgType = 2
	msgRequest  msgType = 3
	msgDecline  msgType = 4
	msgAck      msgType = 5
	msgNak      msgType = 6
	msgRelease  msgType = 7
	msgInform   msgType = 8
)

func (t msgType) String() string {
	names := [...]string{"", "DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE", "INFORM"}
	if int(t) < len(names) && t != 0 {
		return names[t]
	}
	return fmt.Sprintf("msgType(%d)", uint8(t))
}

// message is a decoded DHCP message. Addresses in the fixed part are always valid IPv4
// addresses once parsed (0.0.0.0 when zero); option addresses are the zero Addr when the
// option is absent. Nothing in it refers to the bytes it was parsed from.
type message struct {
	op     uint8
	xid    uint32
	secs   uint16
	flags  uint16
	ciaddr netip.Addr
	yiaddr netip.Addr
	siaddr netip.Addr
	giaddr netip.Addr
	chaddr [6]byte

	typ       msgType      // option 53
	serverID  netip.Addr   // option 54
	requested netip.Addr   // option 50
	maskBits  int          // option 1 as a prefix length, 1..32; 0 when absent
	routers   []netip.Addr // option 3
	dns       []netip.Addr // option 6
	leaseSecs uint32       // option 51, valid when hasLease
	hasLease  bool
	hostname  string // option 12
	clientID  []byte // option 61, echoed by the server (RFC 6842)
	params    []byte // option 55
}

// Parse errors. They are only logged or counted: a bad message is dropped.
var (
	errShort     = errors.New("dhcp: message too short")
	errHardware  = errors.New("dhcp: not an Ethernet hardware address")
	errOp        = errors.New("dhcp: bad op")
	errCookie    = errors.New("dhcp: no magic cookie")
	errTruncated = errors.New("dhcp: option runs past its field")
	errOverload  = errors.New("dhcp: bad option overload")
	errNotDHCP   = errors.New("dhcp: no message type option")
)

// optionLenError reports an option whose length does not fit its code.
type optionLenError struct {
	code uint8
	len  int
}

func (e *optionLenError) Error() string {
	return fmt.Sprintf("dhcp: option %d has bad length %d", e.code, e.len)
}

// parseMessage decodes a DHCP message (the UDP payload). It copies what it keeps out of b.
func parseMessage(b []byte) (message, error) {
	var m message
	if len(b) < offOptions {
		return m, errShort
	}
	if b[offHtype] != htypeEthernet || b[offHlen] != hlenEthernet {
		return m, errHardware
	}
	m.op = b[offOp]
	if m.op != bootRequest && m.op != bootReply {
		return m, errOp
	}
	if [4]byte(b[offCookie:offOptions]) != magicCookie {
		return m, errCookie
	}
	m.xid = binary.BigEndian.Uint32(b[offXid:])
	m.secs = binary.BigEndian.Uint16(b[offSecs:])
	m.flags = binary.BigEndian.Uint16(b[offFlags:])
	m.ciaddr = addr4(b[offCiaddr:])
	m.yiaddr = addr4(b[offYiaddr:])
	m.siaddr = addr4(b[offSiaddr:])
	m.giaddr = addr4(b[offGiaddr:])
	m.chaddr = [6]byte(b[offChaddr:])

	// RFC 3396: an option may be split into several instances, which are concatenated in
	// the order options field, file, sname. RFC 2131 section 4.1: sname and file hold
	// options only when option 52 in the options field says so.
	opts := make(map[uint8][]byte)
	overload, err := scanOptions(opts, b[offOptions:], true)
	if err != nil {
		return m, err
	}
	if overload&1 != 0 {
		if _, err := scanOptions(opts, b[offFile:offFile+lenFile], false); err != nil {
			return m, err
		}
	}
	if overload&2 != 0 {
		if _, err := scanOptions(opts, b[offSname:offSname+lenSname], false); err != nil {
			return m, err
		}
	}
	return m, m.decodeOptions(opts)
}

// scanOptions collects the options of one field into opts, concatenating repeated codes. An
// option must lie wholly inside the field; the end option (or the end of the field) ends it.
// It returns the value of option 52, which only the options field may carry.
func scanOptions(opts map[uint8][]byte, field []byte, top bool) (overload uint8, err error) {
	for i := 0; i < len(field); {
		code := field[i]
		switch code {
		case optPad:
			i++
			continue
		case optEnd:
			return overload, nil
		}
		if i+1 >= len(field) {
			return 0, errTruncated
		}
		n := int(field[i+1])
		if i+2+n > len(field) {
			return 0, errTruncated
		}
		data := field[i+2 : i+2+n]
		i += 2 + n
		if code == optOverload {
			if !top || overload != 0 || n != 1 || data[0] < 1 || data[0] > 3 {
				return 0, errOverload
			}
			overload = data[0]
			continue
		}
		// append to a nil slice copies, so opts never refers to field.
		opts[code] = append(opts[code], data...)
	}
	return overload, nil
}

// decodeOptions fills m's option fields. A known option with a malformed value fails the
// whole message: a reply we would act on wrongly is worse than one we ignore.
func (m *message) decodeOptions(opts map[uint8][]byte) error {
	v, ok := opts[optMessageType]
	if !ok {
		return errNotDHCP
	}
	if len(v) != 1 || v[0] < uint8(msgDiscover) || v[0] > uint8(msgInform) {
		return &optionLenError{optMessageType, len(v)}
	}
	m.typ = msgType(v[0])

	for code, v := range opts {
		bad := false
		switch code {
		case optServerID:
			m.serverID, bad = optAddr(v)
		case optRequestedIP:
			m.requested, bad = optAddr(v)
		case optSubnetMask:
			m.maskBits, bad = maskLen(v)
		case optRouter:
			m.routers, bad = optAddrs(v)
		case optDNS:
			m.dns, bad = optAddrs(v)
		case optLeaseTime:
			bad = len(v) != 4
			if !bad {
				m.leaseSecs, m.hasLease = binary.BigEndian.Uint32(v), true
			}
		case optHostname:
			bad = len(v) < 1
			m.hostname = string(v)
		case optClientID:
			bad = len(v) < 2
			m.clientID = v
		case optParamRequest:
			bad = len(v) < 1
			m.params = v
		}
		if bad {
			return &optionLenError{code, len(v)}
		}
	}
	return nil
}

func optAddr(v []byte) (netip.Addr, bool) {
	if len(v) != 4 {
		return netip.Addr{}, true
	}
	return addr4(v), false
}

func optAddrs(v []byte) ([]netip.Addr, bool) {
	if len(v) == 0 || len(v)%4 != 0 {
		return nil, true
	}
	out := make([]netip.Addr, len(v)/4)
	for i := range out {
		out[i] = addr4(v[4*i:])
	}
	return out, false
}

// maskLen turns a subnet mask into a prefix length. Masks must be contiguous (RFC 950 allows
// others, nobody uses them) and not empty.
func maskLen(v []byte) (int, bool) {
	if len(v) != 4 {
		return 0, true
	}
	mask := binary.BigEndian.Uint32(v)
	ones := bits.LeadingZeros32(^mask)
	if ones == 0 || mask != ^uint32(0)<<(32-ones) {
		return 0, true
	}
	return ones, false
}

func addr4(b []byte) netip.Addr { return netip.AddrFrom4([4]byte(b[:4])) }

// put4 stores a in b, or zeros when a is not an IPv4 address.
func put4(b []byte, a netip.Addr) {
	var v [4]byte
	if a.Is4() {
		v = a.As4()
	}
	copy(b, v[:])
}

// appendMessage encodes m after b. Options longer than 255 bytes are split (RFC 3396); the
// message is padded to minBOOTPLen.
func appendMessage(b []byte, m *message) []byte {
	start := len(b)
	b = append(b, make([]byte, offOptions)...)
	h := b[start:]
	h[offOp] = m.op
	h[offHtype] = htypeEthernet
	h[offHlen] = hlenEthernet
	binary.BigEndian.PutUint32(h[offXid:], m.xid)
	binary.BigEndian.PutUint16(h[offSecs:], m.secs)
	binary.BigEndian.PutUint16(h[offFlags:], m.flags)
	put4(h[offCiaddr:], m.ciaddr)
	put4(h[offYiaddr:], m.yiaddr)
	put4(h[offSiaddr:], m.siaddr)
	put4(h[offGiaddr:], m.giaddr)
	copy(h[offChaddr:], m.chaddr[:])
	copy(h[offCookie:], magicCookie[:])

	b = appendOption(b, optMessageType, []byte{byte(m.typ)})
	if m.serverID.Is4() {
		b = appendOption(b, optServerID, m.serverID.AsSlice())
	}
	if m.requested.Is4() {
		b = appendOption(b, optRequestedIP, m.requested.AsSlice())
	}
	if m.hasLease {
		b = appendOption(b, optLeaseTime, binary.BigEndian.AppendUint32(nil, m.leaseSecs))
	}
	if m.maskBits > 0 && m.maskBits <= 32 {
		b = appendOption(b, optSubnetMask, binary.BigEndian.AppendUint32(nil, ^uint32(0)<<(32-m.maskBits)))
	}
	b = appendOption(b, optRouter, addrBytes(m.routers))
	b = appendOption(b, optDNS, addrBytes(m.dns))
	b = appendOption(b, optHostname, []byte(m.hostname))
	b = appendOption(b, optClientID, m.clientID)
	b = appendOption(b, optParamRequest, m.params)
	b = append(b, optEnd)
	for len(b)-start < minBOOTPLen {
		b = append(b, optPad)
	}
	return b
}

// appendOption appends an option, split into instances of at most 255 bytes; an empty value
// appends nothing, since none of the options we send may be empty.
func appendOption(b []byte, code uint8, v []byte) []byte {
	for len(v) > 0 {
		n := min(len(v), 255)
		b = append(b, code, uint8(n))
		b = append(b, v[:n]...)
		v = v[n:]
	}
	return b
}

func addrBytes(as []netip.Addr) []byte {
	var b []byte
	for _, a := range as {
		if a.Is4() {
			b = append(b, a.AsSlice()...)
		}
	}
	return b
}
