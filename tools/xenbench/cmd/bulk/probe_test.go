package main

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEchoRequest(t *testing.T) {
	for _, tc := range []struct{ id, seq uint16 }{{0, 0}, {1, 2}, {0xffff, 0xffff}, {0x1234, 0x8000}} {
		b := echoRequest(tc.id, tc.seq)
		assert.Equal(t, byte(8), b[0], "echo request")
		assert.Equal(t, tc.id, binary.BigEndian.Uint16(b[4:]))
		assert.Equal(t, tc.seq, binary.BigEndian.Uint16(b[6:]))
		// A message with its checksum in place sums to zero.
		assert.Zero(t, icmpChecksum(b), "id %d seq %d", tc.id, tc.seq)
	}
}

func TestICMPChecksumOddLength(t *testing.T) {
	// RFC 1071: an odd trailing byte is padded with zero.
	assert.Equal(t, icmpChecksum([]byte{1, 2, 3, 0}), icmpChecksum([]byte{1, 2, 3}))
}
