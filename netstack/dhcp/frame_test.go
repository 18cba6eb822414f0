package dhcp

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPacketRoundTrip(t *testing.T) {
	payload := []byte("any payload, odd length")
	in := packet{
		dstMAC: broadcastMAC, srcMAC: clientMAC,
		srcIP: ip("10.0.0.7"), dstIP: broadcastIP,
		srcPort: clientPort, dstPort: serverPort,
		payload: payload,
	}
	frame := appendPacket([]byte("prefix"), &in)
	require.Equal(t, "prefix", string(frame[:6]))
	out, err := parsePacket(frame[6:])
	require.NoError(t, err)
	assert.Equal(t, in, out)
	assert.Len(t, frame[6:], ethHeaderLen+ipv4HeaderLen+udpHeaderLen+len(payload))
	assert.NotZero(t, binary.BigEndian.Uint16(frame[6+ethHeaderLen+ipv4HeaderLen+6:]), "UDP checksum computed")
}

func TestParsePacket(t *testing.T) {
	good := requestFrame(message{xid: 1, chaddr: clientMAC, typ: msgDiscover})
	const ipOff, udpOff = ethHeaderLen, ethHeaderLen + ipv4HeaderLen

	tests := []struct {
		name string
		edit func([]byte) []byte // gets a copy of good
		fix  bool                // recompute checksums after edit
		want error
	}{
		{"good", func(f []byte) []byte { return f }, false, nil},
		{"Ethernet padding after the datagram", func(f []byte) []byte { return append(f, make([]byte, 20)...) }, false, nil},
		{"zero UDP checksum means none", func(f []byte) []byte { f[udpOff+6], f[udpOff+7] = 0, 0; return f }, false, nil},
		{"DF flag is fine", func(f []byte) []byte { f[ipOff+6] = 0x40; return f }, true, nil},
		{"IPv4 options", func(f []byte) []byte {
			// Insert a 4-byte option (NOP NOP NOP EOL) and grow IHL and total length.
			f = append(f[:udpOff:udpOff], append([]byte{1, 1, 1, 0}, f[udpOff:]...)...)
			f[ipOff] = 0x46
			binary.BigEndian.PutUint16(f[ipOff+2:], binary.BigEndian.Uint16(f[ipOff+2:])+4)
			return f
		}, true, nil},
		{"empty", func(f []byte) []byte { return nil }, false, errNotIPv4},
		{"short Ethernet", func(f []byte) []byte { return f[:13] }, false, errNotIPv4},
		{"IPv6 ethertype", func(f []byte) []byte { f[12], f[13] = 0x86, 0xdd; return f }, false, errNotIPv4},
		{"VLAN tag", func(f []byte) []byte { f[12], f[13] = 0x81, 0x00; return f }, false, errNotIPv4},
		{"short IPv4 header", func(f []byte) []byte { return f[:ipOff+19] }, false, errNotIPv4},
		{"IP version 6", func(f []byte) []byte { f[ipOff] = 0x65; return f }, false, errNotIPv4},
		{"IHL below 5", func(f []byte) []byte { f[ipOff] = 0x44; return f }, false, errIPHeader},
		{"IHL past total length", func(f []byte) []byte {
			f[ipOff] = 0x4f
			binary.BigEndian.PutUint16(f[ipOff+2:], 40)
			return f
		}, false, errIPHeader},
		{"total length past frame", func(f []byte) []byte { return f[:len(f)-1] }, false, errIPHeader},
		{"total length below header", func(f []byte) []byte { binary.BigEndian.PutUint16(f[ipOff+2:], 19); return f }, false, errIPHeader},
		{"bad header checksum", func(f []byte) []byte { f[ipOff+8]--; return f }, false, errIPChecksum},
		{"more fragments", func(f []byte) []byte { f[ipOff+6] = 0x20; return f }, true, errFragment},
		{"fragment offset", func(f []byte) []byte { f[ipOff+7] = 1; return f }, true, errFragment},
		{"TCP", func(f []byte) []byte { f[ipOff+9] = 6; return f }, true, errNotUDP},
		{"no room for UDP header", func(f []byte) []byte {
			binary.BigEndian.PutUint16(f[ipOff+2:], ipv4HeaderLen+7)
			return f
		}, true, errUDPHeader},
		{"UDP length below 8", func(f []byte) []byte { f[udpOff+4], f[udpOff+5] = 0, 7; return f }, false, errUDPHeader},
		{"UDP length past datagram", func(f []byte) []byte {
			binary.BigEndian.PutUint16(f[udpOff+4:], binary.BigEndian.Uint16(f[udpOff+4:])+1)
			return f
		}, false, errUDPHeader},
		{"bad UDP checksum", func(f []byte) []byte { f[len(f)-1] ^= 0x55; return f }, false, errUDPChecksum},
		{"UDP checksum off by its complement", func(f []byte) []byte { f[udpOff+6] ^= 0xff; f[udpOff+7] ^= 0xff; return f }, false, errUDPChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.edit(append([]byte(nil), good...))
			if tt.fix {
				fixChecksums(f)
			}
			p, err := parsePacket(f)
			require.ErrorIs(t, err, tt.want)
			if tt.want == nil {
				_, err := parseMessage(p.payload)
				assert.NoError(t, err)
				assert.Equal(t, uint16(clientPort), p.srcPort)
				assert.Equal(t, uint16(serverPort), p.dstPort)
			}
		})
	}
}

// TestChecksumFFFF checks that a UDP checksum that comes out as zero is sent as ffff, and
// that ffff is accepted.
func TestChecksumFFFF(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		// Vary two payload bytes until the computed checksum is zero.
		payload := []byte{byte(i >> 8), byte(i), 0, 0}
		f := appendPacket(nil, &packet{srcIP: zeroIP, dstIP: broadcastIP, srcPort: 1, dstPort: 2, payload: payload})
		udp := f[ethHeaderLen+ipv4HeaderLen:]
		if binary.BigEndian.Uint16(udp[6:]) != 0xffff {
			continue
		}
		_, err := parsePacket(f)
		require.NoError(t, err)
		return
	}
	t.Fatal("no payload gives a zero checksum")
}
