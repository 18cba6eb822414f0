// The capture writer: a Section Header and an Interface Description up front, then one
// Enhanced Packet Block per frame.

package pcap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// DefaultSnaplen is the snapshot length NewWriter uses when given 0: enough for any
	// 64 KiB GSO frame, and the largest Ethernet snaplen Wireshark accepts.
	DefaultSnaplen = 262144
	// MaxSnaplen keeps every block's total length within its 32-bit field. Captures of
	// Ethernet frames longer than DefaultSnaplen are valid pcapng, but Wireshark calls them
	// corrupt.
	MaxSnaplen = 1 << 30

	bufferSize = 64 << 10 // holds a GSO frame, so most blocks reach w in one write
	// scratchSize holds an EPB header and its options: flags, queue, a comment and the end.
	scratchSize = 256
)

var (
	// ErrClosed is returned by calls on a closed Writer.
	ErrClosed = errors.New("pcap: writer closed")
	// ErrDirection is returned by WritePacket for a Direction other than the three defined.
	ErrDirection = errors.New("pcap: invalid direction")
	// ErrInvalid is returned by NewWriter for a snaplen or interface name it cannot write.
	ErrInvalid = errors.New("pcap: invalid argument")
)

// Writer writes a pcapng capture of one Ethernet interface. It is safe for concurrent use.
type Writer struct {
	packets atomic.Uint64

	mu      sync.Mutex    // guards everything below, and keeps each block whole in bw
	bw      *bufio.Writer // wraps the caller's writer
	scratch []byte        // EPB header and options, rebuilt for every packet
	snaplen int
	err     error // first write error; every later call returns it
	closed  bool
}

// NewWriter writes a Section Header Block and an Interface Description Block for an Ethernet
// interface called name (no if_name when empty) with nanosecond timestamps to w, and returns a
// Writer for the packets. snaplen 0 means DefaultSnaplen. The headers are flushed to w, so a
// capture with no packets is already a valid file.
func NewWriter(w io.Writer, name string, snaplen int) (*Writer, error) {
	switch {
	case snaplen == 0:
		snaplen = DefaultSnaplen
	case snaplen < 0 || snaplen > MaxSnaplen:
		return nil, fmt.Errorf("%w: snaplen %d not in 0..%d", ErrInvalid, snaplen, MaxSnaplen)
	}
	if len(name) > optionLenMax {
		return nil, fmt.Errorf("%w: interface name of %d octets", ErrInvalid, len(name))
	}
	pw := &Writer{
		bw:      bufio.NewWriterSize(w, bufferSize),
		scratch: make([]byte, 0, scratchSize),
		snaplen: snaplen,
	}

	b := make([]byte, 0, 128+len(name))

	// Section Header Block, section length unknown (-1): we stream.
	b = le.AppendUint32(b, blockTypeSHB)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, byteOrderMagic)
	b = le.AppendUint16(b, versionMajor)
	b = le.AppendUint16(b, versionMinor)
	b = le.AppendUint64(b, math.MaxUint64)
	b = appendOption(b, shb_userappl, userAppl)
	b = appendEndOfOpt(b)
	b = le.AppendUint32(b, 0)
	finishBlock(b, 0)

	// Interface Description Block: interface 0, the one every EPB names.
	idb := len(b)
	b = le.AppendUint32(b, blockTypeIDB)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint16(b, linkTypeEthernet)
	b = le.AppendUint16(b, 0) // reserved
	b = le.AppendUint32(b, uint32(snaplen))
	if name != "" {
		b = appendOption(b, if_name, name)
	}
	b = append(appendOptionHeader(b, if_tsresol, 1), tsresolNanoseconds, 0, 0, 0)
	b = appendEndOfOpt(b)
	b = le.AppendUint32(b, 0)
	finishBlock(b, idb)

	if _, err := pw.bw.Write(b); err != nil {
		return nil, err
	}
	if err := pw.bw.Flush(); err != nil {
		return nil, err
	}
	return pw, nil
}

// WritePacket appends an Enhanced Packet Block for frame, seen at ts going in direction dir.
// Frames longer than the snaplen are truncated, keeping their original length. The block
// carries epb_flags and epb_queue always, and an opt_comment when m has offload metadata.
//
// It does not allocate. Blocks land in a buffer; call Flush to push them to the writer.
// An error from the writer is returned by this and every later call.
func (w *Writer) WritePacket(ts time.Time, dir Direction, frame []byte, m Meta) error {
	if dir > Outbound {
		return ErrDirection
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	capLen := min(len(frame), w.snaplen)
	origLen := uint32(len(frame))
	if uint64(len(frame)) > math.MaxUint32 {
		origLen = math.MaxUint32 // the field's limit; the captured part is intact
	}
	t := nanoseconds(ts)

	// scratch holds the part before the packet data, then the options and trailer after it.
	b := w.scratch[:0]
	b = le.AppendUint32(b, blockTypeEPB)
	b = le.AppendUint32(b, 0) // total length, below
	b = le.AppendUint32(b, 0) // interface 0
	b = le.AppendUint32(b, uint32(t>>32))
	b = le.AppendUint32(b, uint32(t))
	b = le.AppendUint32(b, uint32(capLen))
	b = le.AppendUint32(b, origLen)

	b = appendOptionU32(b, epb_flags, uint32(dir)|m.flags())
	if m.Queue >= 0 && uint64(m.Queue) <= math.MaxUint32 {
		b = appendOptionU32(b, epb_queue, uint32(m.Queue))
	}
	if m.offload() {
		start := len(b)
		b = appendOptionHeader(b, opt_comment, 0)
		b = m.appendComment(b)
		n := len(b) - start - optHeaderLen
		le.PutUint16(b[start+2:], uint16(n))
		b = append(b, zeros[:pad4(n)]...)
	}
	b = appendEndOfOpt(b)
	b = le.AppendUint32(b, 0) // trailing total length
	w.scratch = b[:0]         // keep the capacity if an option outgrew it

	pad := pad4(capLen)
	total := uint32(len(b) + capLen + pad)
	le.PutUint32(b[4:], total)
	le.PutUint32(b[len(b)-blockTrailerLen:], total)

	w.write(b[:epbHeaderLen])
	w.write(frame[:capLen])
	w.write(zeros[:pad])
	w.write(b[epbHeaderLen:])
	if w.err != nil {
		return w.err
	}
	w.packets.Add(1)
	return nil
}

// write writes p to the buffer unless an earlier write failed, and keeps the first error.
func (w *Writer) write(p []byte) {
	if w.err != nil {
		return
	}
	if _, err := w.bw.Write(p); err != nil {
		w.err = err
	}
}

// Flush writes the buffered blocks to the underlying writer.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	w.err = w.bw.Flush()
	return w.err
}

// Close flushes the capture and makes later writes return ErrClosed. It does not close the
// underlying writer. Closing again returns the first write error, if any, or nil.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil && !w.closed {
		w.err = w.bw.Flush()
	}
	w.closed = true
	return w.err
}

// Packets is the number of packets written so far (buffered or flushed).
func (w *Writer) Packets() uint64 { return w.packets.Load() }

// nanoseconds is ts as a count of nanoseconds since 1970-01-01 00:00:00 UTC, the unit
// if_tsresol announces; times before 1970 are written as 0.
func nanoseconds(ts time.Time) uint64 {
	s := ts.Unix()
	if s < 0 {
		return 0
	}
	if uint64(s) > (math.MaxUint64-999_999_999)/1_000_000_000 {
		return math.MaxUint64 // past the year 2554
	}
	return uint64(s)*1e9 + uint64(ts.Nanosecond())
}
