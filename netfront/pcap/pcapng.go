// Block and option codes of draft-ietf-opsawg-pcapng, and helpers that append them.

package pcap

import "encoding/binary"

// Block types. Every block is: type, total length, body padded to 32 bits, total length again.
const (
	blockTypeSHB = 0x0A0D0D0A // Section Header Block
	blockTypeIDB = 0x00000001 // Interface Description Block
	blockTypeEPB = 0x00000006 // Enhanced Packet Block

	byteOrderMagic = 0x1A2B3C4D
	versionMajor   = 1
	versionMinor   = 0 // writers MUST NOT write any other version

	linkTypeEthernet = 1 // LINKTYPE_ETHERNET
)

// Fixed sizes, in octets.
const (
	blockHeaderLen  = 8  // block type and leading total length
	blockTrailerLen = 4  // trailing total length
	shbBodyLen      = 16 // byte-order magic, versions, section length
	idbBodyLen      = 8  // link type, reserved, snaplen
	epbBodyLen      = 20 // interface id, timestamp (2 words), captured and original length
	optHeaderLen    = 4  // option type and length
	optionLenMax    = 0xFFFF

	// epbHeaderLen is what precedes the packet data in an Enhanced Packet Block.
	epbHeaderLen = blockHeaderLen + epbBodyLen
)

// Option codes, spelled as in the draft.
const (
	opt_endofopt = 0 // ends every option list
	opt_comment  = 1 // UTF-8, not zero-terminated; valid in every block

	shb_userappl = 4 // application that wrote the section

	if_name    = 2 // UTF-8 interface name
	if_tsresol = 9 // 1 octet: MSB clear, so the rest is a negative power of 10

	epb_flags = 2 // 4 octets, the epbFlag bits
	epb_queue = 6 // 4 octets: the queue the packet went through
)

// epb_flags bits; bit 0 is the least significant.
const (
	epbFlagInbound      = 1 << 0  // bits 0-1: 01 inbound, 10 outbound, 00 not available
	epbFlagOutbound     = 1 << 1  //
	epbFlagCsumNotReady = 1 << 9  // checksum left to an offload, not filled in yet
	epbFlagCsumValid    = 1 << 10 // checksum checked before capture; no need to check it again
	epbFlagTSO          = 1 << 11 // TCP segmentation offloaded: one block for many wire packets
)

const (
	tsresolNanoseconds = 9 // if_tsresol: timestamps count 10^-9 s
	userAppl           = "tamaxen netfront/pcap"
)

// Every section is little-endian; readers follow the byte-order magic.
var le = binary.LittleEndian

// pad4 is how many zero octets bring n to a multiple of 4.
func pad4(n int) int { return -n & 3 }

var zeros [4]byte

// appendOptionHeader appends an option's type and length; the value and its padding follow.
func appendOptionHeader(b []byte, code, n uint16) []byte {
	return le.AppendUint16(le.AppendUint16(b, code), n)
}

// appendOption appends one option with a string value and the padding after it.
func appendOption(b []byte, code uint16, v string) []byte {
	b = appendOptionHeader(b, code, uint16(len(v)))
	b = append(b, v...)
	return append(b, zeros[:pad4(len(v))]...)
}

// appendOptionU32 appends an option whose value is one 32-bit word.
func appendOptionU32(b []byte, code uint16, v uint32) []byte {
	return le.AppendUint32(appendOptionHeader(b, code, 4), v)
}

// appendEndOfOpt ends an option list: type opt_endofopt, length 0.
func appendEndOfOpt(b []byte) []byte { return le.AppendUint32(b, opt_endofopt) }

// finishBlock fills in both total lengths of the block that starts at b[start:] and ends with
// four octets reserved for the trailing length.
func finishBlock(b []byte, start int) {
	n := uint32(len(b) - start)
	le.PutUint32(b[start+4:], n)
	le.PutUint32(b[len(b)-blockTrailerLen:], n)
}
