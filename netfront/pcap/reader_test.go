// A strict reader of the captures this package writes, for the tests: it checks block lengths,
// 32-bit alignment, zero padding, option lengths and the trailing block length.

package pcap

import (
	"errors"
	"fmt"
	"io"
)

type capture struct {
	Major, Minor  uint16
	SectionLength int64
	UserAppl      string
	Interfaces    []iface
	Packets       []packet
}

type iface struct {
	LinkType uint16
	SnapLen  uint32
	Name     string
	TSResol  int // -1 when absent
}

type packet struct {
	BlockLen        uint32
	Interface       uint32
	Timestamp       uint64
	CapLen, OrigLen uint32
	Data            []byte
	Flags           uint32
	HasFlags        bool
	Queue           uint32
	HasQueue        bool
	Comments        []string
}

var errFormat = errors.New("pcapng format")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errFormat}, args...)...)
}

// readCapture parses a little-endian pcapng stream of SHB, IDB and EPB blocks.
func readCapture(r io.Reader) (*capture, error) {
	all, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var c *capture
	for off := 0; off < len(all); {
		rest := all[off:]
		if len(rest) < blockHeaderLen+blockTrailerLen {
			return nil, formatErr("%d stray octets at %d", len(rest), off)
		}
		typ, n := le.Uint32(rest), le.Uint32(rest[4:])
		switch {
		case n%4 != 0:
			return nil, formatErr("block at %d: length %d not a multiple of 4", off, n)
		case n < blockHeaderLen+blockTrailerLen || int64(n) > int64(len(rest)):
			return nil, formatErr("block at %d: length %d out of 12..%d", off, n, len(rest))
		case le.Uint32(rest[n-4:]) != n:
			return nil, formatErr("block at %d: trailing length %d != %d", off, le.Uint32(rest[n-4:]), n)
		}
		body := rest[blockHeaderLen : n-blockTrailerLen]
		if c == nil && typ != blockTypeSHB {
			return nil, formatErr("first block has type %#x, not a Section Header", typ)
		}
		switch typ {
		case blockTypeSHB:
			if c != nil {
				return nil, formatErr("second section at %d", off)
			}
			if c, err = readSHB(body); err != nil {
				return nil, err
			}
		case blockTypeIDB:
			i, err := readIDB(body)
			if err != nil {
				return nil, err
			}
			c.Interfaces = append(c.Interfaces, i)
		case blockTypeEPB:
			p, err := readEPB(body, c.Interfaces)
			if err != nil {
				return nil, fmt.Errorf("packet %d: %w", len(c.Packets), err)
			}
			p.BlockLen = n
			c.Packets = append(c.Packets, p)
		default:
			return nil, formatErr("unexpected block type %#x at %d", typ, off)
		}
		off += int(n)
	}
	if c == nil {
		return nil, formatErr("empty file")
	}
	return c, nil
}

func readSHB(body []byte) (*capture, error) {
	if len(body) < shbBodyLen {
		return nil, formatErr("section header body of %d octets", len(body))
	}
	if m := le.Uint32(body); m != byteOrderMagic {
		return nil, formatErr("byte-order magic %#x", m)
	}
	c := &capture{
		Major:         le.Uint16(body[4:]),
		Minor:         le.Uint16(body[6:]),
		SectionLength: int64(le.Uint64(body[8:])),
	}
	err := readOptions(body[shbBodyLen:], func(code uint16, v []byte) error {
		switch code {
		case shb_userappl:
			c.UserAppl = string(v)
		case opt_comment:
		default:
			return formatErr("unexpected section option %d", code)
		}
		return nil
	})
	return c, err
}

func readIDB(body []byte) (iface, error) {
	if len(body) < idbBodyLen {
		return iface{}, formatErr("interface body of %d octets", len(body))
	}
	if r := le.Uint16(body[2:]); r != 0 {
		return iface{}, formatErr("interface reserved field %#x", r)
	}
	i := iface{LinkType: le.Uint16(body), SnapLen: le.Uint32(body[4:]), TSResol: -1}
	err := readOptions(body[idbBodyLen:], func(code uint16, v []byte) error {
		switch code {
		case if_name:
			i.Name = string(v)
		case if_tsresol:
			if len(v) != 1 {
				return formatErr("if_tsresol of %d octets", len(v))
			}
			i.TSResol = int(v[0])
		default:
			return formatErr("unexpected interface option %d", code)
		}
		return nil
	})
	return i, err
}

func readEPB(body []byte, ifaces []iface) (packet, error) {
	if len(body) < epbBodyLen {
		return packet{}, formatErr("packet body of %d octets", len(body))
	}
	p := packet{
		Interface: le.Uint32(body),
		Timestamp: uint64(le.Uint32(body[4:]))<<32 | uint64(le.Uint32(body[8:])),
		CapLen:    le.Uint32(body[12:]),
		OrigLen:   le.Uint32(body[16:]),
	}
	if int(p.Interface) >= len(ifaces) {
		return p, formatErr("interface %d not described", p.Interface)
	}
	if snap := ifaces[p.Interface].SnapLen; snap != 0 && p.CapLen > snap {
		return p, formatErr("captured %d octets past snaplen %d", p.CapLen, snap)
	}
	if p.CapLen > p.OrigLen {
		return p, formatErr("captured length %d > original %d", p.CapLen, p.OrigLen)
	}
	data := body[epbBodyLen:]
	padded := int64(p.CapLen) + int64(pad4(int(p.CapLen)))
	if padded > int64(len(data)) {
		return p, formatErr("captured length %d past the block", p.CapLen)
	}
	p.Data = data[:p.CapLen]
	if err := checkZero(data[p.CapLen:padded]); err != nil {
		return p, err
	}
	err := readOptions(data[padded:], func(code uint16, v []byte) error {
		switch code {
		case epb_flags:
			if len(v) != 4 || p.HasFlags {
				return formatErr("epb_flags of %d octets or repeated", len(v))
			}
			p.Flags, p.HasFlags = le.Uint32(v), true
		case epb_queue:
			if len(v) != 4 || p.HasQueue {
				return formatErr("epb_queue of %d octets or repeated", len(v))
			}
			p.Queue, p.HasQueue = le.Uint32(v), true
		case opt_comment:
			p.Comments = append(p.Comments, string(v))
		default:
			return formatErr("unexpected packet option %d", code)
		}
		return nil
	})
	return p, err
}

// readOptions walks an option list that must end with opt_endofopt exactly at the end of the
// block body (the draft lets readers accept a missing one; our writer always writes it).
func readOptions(b []byte, fn func(code uint16, v []byte) error) error {
	for len(b) > 0 {
		if len(b) < optHeaderLen {
			return formatErr("%d stray octets in options", len(b))
		}
		code, n := le.Uint16(b), int(le.Uint16(b[2:]))
		if code == opt_endofopt {
			if n != 0 || len(b) != optHeaderLen {
				return formatErr("opt_endofopt of length %d with %d octets after it", n, len(b)-optHeaderLen)
			}
			return nil
		}
		end := optHeaderLen + n + pad4(n)
		if end > len(b) {
			return formatErr("option %d of length %d past the block", code, n)
		}
		if err := checkZero(b[optHeaderLen+n : end]); err != nil {
			return err
		}
		if err := fn(code, b[optHeaderLen:optHeaderLen+n]); err != nil {
			return err
		}
		b = b[end:]
	}
	return formatErr("option list without opt_endofopt")
}

func checkZero(pad []byte) error {
	for _, x := range pad {
		if x != 0 {
			return formatErr("non-zero padding % x", pad)
		}
	}
	return nil
}
