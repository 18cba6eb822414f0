package dhcp

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fullMessage sets every field the package encodes.
func fullMessage() message {
	return message{
		op: bootReply, xid: 0xdeadbeef, secs: 7, flags: flagBroadcast,
		ciaddr: ip("10.0.0.9"), yiaddr: ip("10.0.0.2"), siaddr: ip("10.0.0.3"), giaddr: ip("10.0.0.4"),
		chaddr: clientMAC, typ: msgAck, serverID: serverIP, requested: ip("10.0.0.2"), maskBits: 20,
		routers:   []netip.Addr{ip("10.0.0.1"), ip("10.0.0.254")},
		dns:       []netip.Addr{ip("10.0.0.53")},
		leaseSecs: 86400, hasLease: true,
		hostname: "guest", clientID: []byte{1, 0, 0x16, 0x3e, 0, 0, 1}, params: []byte{1, 3, 6},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	many := make([]netip.Addr, 70) // 280 bytes: must be split into two instances
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 1, 0, byte(i + 1)})
	}
	tests := []struct {
		name string
		m    message
	}{
		{"full", fullMessage()},
		{"minimal DISCOVER", message{op: bootRequest, xid: 1, chaddr: clientMAC, typ: msgDiscover}},
		{"mask /32", message{op: bootReply, typ: msgOffer, maskBits: 32}},
		{"mask /1", message{op: bootReply, typ: msgOffer, maskBits: 1}},
		{"infinite lease", message{op: bootReply, typ: msgAck, leaseSecs: 0xffffffff, hasLease: true}},
		{"zero lease", message{op: bootReply, typ: msgAck, hasLease: true}},
		{"long DNS list", message{op: bootReply, typ: msgAck, dns: many}},
		{"every type", message{op: bootRequest, typ: msgInform}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := appendMessage(nil, &tt.m)
			assert.GreaterOrEqual(t, len(b), minBOOTPLen)
			got, err := parseMessage(b)
			require.NoError(t, err)
			want := tt.m
			for _, a := range []*netip.Addr{&want.ciaddr, &want.yiaddr, &want.siaddr, &want.giaddr} {
				if !a.IsValid() {
					*a = zeroIP // the fixed fields always parse to an address
				}
			}
			assert.Equal(t, want, got)
		})
	}
}

// TestParseMessageDoesNotAlias checks that nothing parsed refers to the input bytes.
func TestParseMessageDoesNotAlias(t *testing.T) {
	m := fullMessage()
	b := appendMessage(nil, &m)
	got, err := parseMessage(b)
	require.NoError(t, err)
	for i := range b {
		b[i] = 0xee
	}
	assert.Equal(t, "guest", got.hostname)
	assert.Equal(t, m.clientID, got.clientID)
	assert.Equal(t, m.params, got.params)
	assert.Equal(t, m.routers, got.routers)
}

// opts builds a message whose options field holds raw, followed by nothing (no end option);
// edit may change the fixed part.
func opts(raw []byte, edit func(b []byte)) []byte {
	m := message{op: bootReply, xid: 5, chaddr: clientMAC}
	b := appendMessage(nil, &m)[:offOptions] // drop the encoded options
	if edit != nil {
		edit(b)
	}
	return append(b, raw...)
}

func TestParseMessageOptions(t *testing.T) {
	typeAck := []byte{optMessageType, 1, byte(msgAck)}
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	tests := []struct {
		name  string
		b     []byte
		check func(t *testing.T, m message) // for good messages
		err   string                        // part of the error, "" for none
	}{
		{"no end option", opts(typeAck, nil), func(t *testing.T, m message) { assert.Equal(t, msgAck, m.typ) }, ""},
		{"pads and end", opts(cat([]byte{0, 0}, typeAck, []byte{0, 255}), nil), nil, ""},
		{"garbage after end ignored", opts(cat(typeAck, []byte{255, 3, 200}), nil), nil, ""},
		{"unknown option skipped", opts(cat([]byte{224, 3, 1, 2, 3}, typeAck), nil), nil, ""},
		{"empty unknown option", opts(cat([]byte{224, 0}, typeAck), nil), nil, ""},
		{"split option concatenated (RFC 3396)",
			opts(cat(typeAck, []byte{optDNS, 2, 10, 0}, []byte{optRouter, 4, 10, 0, 0, 1}, []byte{optDNS, 6, 0, 53, 10, 0, 0, 54}), nil),
			func(t *testing.T, m message) {
				assert.Equal(t, []netip.Addr{ip("10.0.0.53"), ip("10.0.0.54")}, m.dns)
				assert.Equal(t, []netip.Addr{ip("10.0.0.1")}, m.routers)
			}, ""},
		{"overload into file",
			opts(cat(typeAck, []byte{optOverload, 1, 1}, []byte{optRouter, 2, 10, 0}), func(b []byte) {
				copy(b[offFile:], []byte{optRouter, 2, 0, 1, optHostname, 2, 'h', 'i', 255})
			}),
			func(t *testing.T, m message) {
				assert.Equal(t, []netip.Addr{ip("10.0.0.1")}, m.routers)
				assert.Equal(t, "hi", m.hostname)
			}, ""},
		{"overload into sname, file not parsed",
			opts(cat(typeAck, []byte{optOverload, 1, 2}), func(b []byte) {
				copy(b[offSname:], []byte{optHostname, 1, 's'})
				copy(b[offFile:], []byte{optHostname, 1, 'f'})
			}),
			func(t *testing.T, m message) { assert.Equal(t, "s", m.hostname) }, ""},
		{"overload both, file before sname",
			opts(cat(typeAck, []byte{optOverload, 1, 3}), func(b []byte) {
				copy(b[offSname:], []byte{optHostname, 1, 's'})
				copy(b[offFile:], []byte{optHostname, 1, 'f'})
			}),
			func(t *testing.T, m message) { assert.Equal(t, "fs", m.hostname) }, ""},
		{"no overload: sname and file are not options",
			opts(typeAck, func(b []byte) { copy(b[offFile:], []byte{optHostname, 1, 'f'}) }),
			func(t *testing.T, m message) { assert.Empty(t, m.hostname) }, ""},

		{"too short", opts(nil, nil)[:offOptions-1], nil, "too short"},
		{"htype", opts(typeAck, func(b []byte) { b[offHtype] = 6 }), nil, "hardware"},
		{"hlen", opts(typeAck, func(b []byte) { b[offHlen] = 16 }), nil, "hardware"},
		{"op 0", opts(typeAck, func(b []byte) { b[offOp] = 0 }), nil, "bad op"},
		{"op 3", opts(typeAck, func(b []byte) { b[offOp] = 3 }), nil, "bad op"},
		{"no cookie", opts(typeAck, func(b []byte) { b[offCookie] = 0 }), nil, "cookie"},
		{"BOOTP: no message type", opts([]byte{255}, nil), nil, "no message type"},
		{"only pads", opts([]byte{0, 0, 0}, nil), nil, "no message type"},
		{"message type length 2", opts([]byte{optMessageType, 2, 1, 1}, nil), nil, "option 53"},
		{"message type twice", opts(cat(typeAck, typeAck), nil), nil, "option 53"},
		{"message type empty", opts([]byte{optMessageType, 0}, nil), nil, "option 53"},
		{"message type 0", opts([]byte{optMessageType, 1, 0}, nil), nil, "option 53"},
		{"message type 9", opts([]byte{optMessageType, 1, 9}, nil), nil, "option 53"},
		{"code without length", opts(cat(typeAck, []byte{optRouter}), nil), nil, "runs past"},
		{"length past the end", opts(cat(typeAck, []byte{optRouter, 8, 10, 0, 0, 1}), nil), nil, "runs past"},
		{"length past the file field", opts(cat(typeAck, []byte{optOverload, 1, 1}), func(b []byte) {
			b[offFile+lenFile-2] = optHostname
			b[offFile+lenFile-1] = 4 // would run into the cookie
		}), nil, "runs past"},
		{"overload in file", opts(cat(typeAck, []byte{optOverload, 1, 1}), func(b []byte) {
			copy(b[offFile:], []byte{optOverload, 1, 2})
		}), nil, "overload"},
		{"overload twice", opts(cat(typeAck, []byte{optOverload, 1, 1, optOverload, 1, 1}), nil), nil, "overload"},
		{"overload value 4", opts(cat(typeAck, []byte{optOverload, 1, 4}), nil), nil, "overload"},
		{"overload value 0", opts(cat(typeAck, []byte{optOverload, 1, 0}), nil), nil, "overload"},
		{"overload length 2", opts(cat(typeAck, []byte{optOverload, 2, 1, 1}), nil), nil, "overload"},
		{"server id length 3", opts(cat(typeAck, []byte{optServerID, 3, 10, 0, 0}), nil), nil, "option 54"},
		{"server id twice", opts(cat(typeAck, []byte{optServerID, 4, 10, 0, 0, 1, optServerID, 4, 10, 0, 0, 1}), nil), nil, "option 54"},
		{"requested length 5", opts(cat(typeAck, []byte{optRequestedIP, 5, 10, 0, 0, 1, 0}), nil), nil, "option 50"},
		{"mask length 3", opts(cat(typeAck, []byte{optSubnetMask, 3, 255, 255, 255}), nil), nil, "option 1 "},
		{"mask not contiguous", opts(cat(typeAck, []byte{optSubnetMask, 4, 255, 0, 255, 0}), nil), nil, "option 1 "},
		{"mask zero", opts(cat(typeAck, []byte{optSubnetMask, 4, 0, 0, 0, 0}), nil), nil, "option 1 "},
		{"router empty", opts(cat(typeAck, []byte{optRouter, 0}), nil), nil, "option 3 "},
		{"router length 6", opts(cat(typeAck, []byte{optRouter, 6, 10, 0, 0, 1, 10, 0}), nil), nil, "option 3 "},
		{"dns length 5", opts(cat(typeAck, []byte{optDNS, 5, 10, 0, 0, 1, 10}), nil), nil, "option 6 "},
		{"lease length 2", opts(cat(typeAck, []byte{optLeaseTime, 2, 1, 0}), nil), nil, "option 51"},
		{"hostname empty", opts(cat(typeAck, []byte{optHostname, 0}), nil), nil, "option 12"},
		{"client id length 1", opts(cat(typeAck, []byte{optClientID, 1, 1}), nil), nil, "option 61"},
		{"parameter list empty", opts(cat(typeAck, []byte{optParamRequest, 0}), nil), nil, "option 55"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := parseMessage(tt.b)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestMsgTypeString(t *testing.T) {
	assert.Equal(t, "DISCOVER", msgDiscover.String())
	assert.Equal(t, "INFORM", msgInform.String())
	assert.Equal(t, "msgType(0)", msgType(0).String())
	assert.Equal(t, "msgType(42)", msgType(42).String())
}
