// Wire format of io/xs_wire.h: message types, the xsd_sockmsg header and the protocol limits.

package xenstore

import (
	"encoding/binary"
	"fmt"
)

// MsgType is the type field of an xsd_sockmsg (enum xsd_sockmsg_type).
type MsgType uint32

// Message types, spelled as in enum xsd_sockmsg_type. XS_RESTRICT (20) was removed from the
// protocol and is deliberately absent: a daemon sending it is treated as sending garbage.
const (
	XS_CONTROL              MsgType = 0
	XS_DEBUG                        = XS_CONTROL
	XS_DIRECTORY            MsgType = 1
	XS_READ                 MsgType = 2
	XS_GET_PERMS            MsgType = 3
	XS_WATCH                MsgType = 4
	XS_UNWATCH              MsgType = 5
	XS_TRANSACTION_START    MsgType = 6
	XS_TRANSACTION_END      MsgType = 7
	XS_INTRODUCE            MsgType = 8
	XS_RELEASE              MsgType = 9
	XS_GET_DOMAIN_PATH      MsgType = 10
	XS_WRITE                MsgType = 11
	XS_MKDIR                MsgType = 12
	XS_RM                   MsgType = 13
	XS_SET_PERMS            MsgType = 14
	XS_WATCH_EVENT          MsgType = 15
	XS_ERROR                MsgType = 16
	XS_IS_DOMAIN_INTRODUCED MsgType = 17
	XS_RESUME               MsgType = 18
	XS_SET_TARGET           MsgType = 19
	XS_RESET_WATCHES        MsgType = XS_SET_TARGET + 2
	XS_DIRECTORY_PART       MsgType = 22
	XS_TYPE_COUNT           MsgType = 23
	XS_INVALID              MsgType = 0xffff
)

var msgTypeNames = [XS_TYPE_COUNT]string{
	XS_CONTROL: "XS_CONTROL", XS_DIRECTORY: "XS_DIRECTORY", XS_READ: "XS_READ",
	XS_GET_PERMS: "XS_GET_PERMS", XS_WATCH: "XS_WATCH", XS_UNWATCH: "XS_UNWATCH",
	XS_TRANSACTION_START: "XS_TRANSACTION_START", XS_TRANSACTION_END: "XS_TRANSACTION_END",
	XS_INTRODUCE: "XS_INTRODUCE", XS_RELEASE: "XS_RELEASE",
	XS_GET_DOMAIN_PATH: "XS_GET_DOMAIN_PATH", XS_WRITE: "XS_WRITE", XS_MKDIR: "XS_MKDIR",
	XS_RM: "XS_RM", XS_SET_PERMS: "XS_SET_PERMS", XS_WATCH_EVENT: "XS_WATCH_EVENT",
	XS_ERROR: "XS_ERROR", XS_IS_DOMAIN_INTRODUCED: "XS_IS_DOMAIN_INTRODUCED",
	XS_RESUME: "XS_RESUME", XS_SET_TARGET: "XS_SET_TARGET",
	XS_RESET_WATCHES: "XS_RESET_WATCHES", XS_DIRECTORY_PART: "XS_DIRECTORY_PART",
}

// Valid reports whether t is a message type the protocol currently defines.
func (t MsgType) Valid() bool { return t < XS_TYPE_COUNT && msgTypeNames[t] != "" }

func (t MsgType) String() string {
	if t.Valid() {
		return msgTypeNames[t]
	}
	return fmt.Sprintf("XS_%d", uint32(t))
}

// Layout and limits of the wire protocol.
const (
	// SockmsgSize is sizeof(struct xsd_sockmsg): type, req_id, tx_id, len, each a u32.
	SockmsgSize = 16

	// XENSTORE_PAYLOAD_MAX bounds the len field in both directions. The daemon drops a
	// connection that exceeds it; a client that receives more is talking to something broken.
	XENSTORE_PAYLOAD_MAX = 4096
	// XENSTORE_ABS_PATH_MAX bounds a path that starts with '/'.
	XENSTORE_ABS_PATH_MAX = 3072
	// XENSTORE_REL_PATH_MAX bounds a path relative to the domain's home, /local/domain/<domid>.
	XENSTORE_REL_PATH_MAX = 2048
)

// Offsets of the xsd_sockmsg fields.
const (
	SockmsgOffType  = 0
	SockmsgOffReqID = 4
	SockmsgOffTxID  = 8
	SockmsgOffLen   = 12
)

// Values of the watch event payload index (enum xs_watch_type).
const (
	XS_WATCH_PATH  = 0
	XS_WATCH_TOKEN = 1
)

// Flags a XS_WRITE may carry in some daemons; kept for grepping against the header, unused here.
const (
	XS_WRITE_NONE        = "NONE"
	XS_WRITE_CREATE      = "CREATE"
	XS_WRITE_CREATE_EXCL = "CREATE|EXCL"
)

// Header is a decoded xsd_sockmsg.
type Header struct {
	Type  MsgType
	ReqID uint32
	TxID  uint32
	Len   uint32
}

// Encode writes h into b, which must hold at least SockmsgSize bytes.
func (h Header) Encode(b []byte) {
	_ = b[SockmsgSize-1]
	binary.LittleEndian.PutUint32(b[SockmsgOffType:], uint32(h.Type))
	binary.LittleEndian.PutUint32(b[SockmsgOffReqID:], h.ReqID)
	binary.LittleEndian.PutUint32(b[SockmsgOffTxID:], h.TxID)
	binary.LittleEndian.PutUint32(b[SockmsgOffLen:], h.Len)
}

// DecodeHeader decodes and validates a header that came from the other side: the type must be
// one the protocol defines and the payload must fit XENSTORE_PAYLOAD_MAX.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < SockmsgSize {
		return Header{}, fmt.Errorf("short header: %d bytes", len(b))
	}
	h := Header{
		Type:  MsgType(binary.LittleEndian.Uint32(b[SockmsgOffType:])),
		ReqID: binary.LittleEndian.Uint32(b[SockmsgOffReqID:]),
		TxID:  binary.LittleEndian.Uint32(b[SockmsgOffTxID:]),
		Len:   binary.LittleEndian.Uint32(b[SockmsgOffLen:]),
	}
	if !h.Type.Valid() {
		return h, fmt.Errorf("unknown message type %d", uint32(h.Type))
	}
	if h.Len > XENSTORE_PAYLOAD_MAX {
		return h, fmt.Errorf("%v payload of %d bytes exceeds XENSTORE_PAYLOAD_MAX", h.Type, h.Len)
	}
	return h, nil
}

// appendMessage appends a whole message, header then payload parts, to dst. The parts are
// concatenated as given; callers include the NUL terminators the operation needs.
func appendMessage(dst []byte, t MsgType, reqID, txID uint32, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	var hdr [SockmsgSize]byte
	Header{Type: t, ReqID: reqID, TxID: txID, Len: uint32(n)}.Encode(hdr[:])
	dst = append(dst, hdr[:]...)
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}
