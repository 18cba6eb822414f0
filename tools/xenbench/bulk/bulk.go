// Package bulk is a bulk TCP transfer benchmark: one side sends N bytes from a buffer it
// reuses, the other receives and discards them, in either direction and over K parallel
// connections. The same code serves on the tamaxen unikernel (over its netstack listener) and
// on Linux (cmd/bulk), so a comparison of the two guests measures their TCP, not two programs.
//
// Each connection carries one transfer. The client opens it with a 16-byte request:
//
//	0  4  magic "TXB1"
//	4  1  op: 'G' (get: the server sends Bytes) or 'P' (put: the client sends Bytes)
//	5  3  zero
//	8  8  Bytes, big-endian
//
// For a get, the server sends Bytes bytes and closes. For a put, the client sends Bytes bytes;
// the server reads exactly that many and answers with the count it received (8 bytes,
// big-endian), so the client's clock stops only when the far side has every byte.
package bulk

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// RequestSize is the size of a request on the wire.
const RequestSize = 16

// Magic opens every request.
const Magic = "TXB1"

// Op is a transfer's direction, named from the client's side.
type Op byte

const (
	// Get: the server sends, the client receives (a download).
	Get Op = 'G'
	// Put: the client sends, the server receives (an upload).
	Put Op = 'P'
)

func (o Op) String() string {
	switch o {
	case Get:
		return "get"
	case Put:
		return "put"
	}
	return fmt.Sprintf("op(%#x)", byte(o))
}

// Request is one transfer's request.
type Request struct {
	Op    Op
	Bytes uint64
}

// ErrBadRequest is returned for a request that is not one of ours.
var ErrBadRequest = errors.New("bulk: bad request")

// ErrTooLarge is returned for a request of more bytes than the server allows.
var ErrTooLarge = errors.New("bulk: request too large")

// Marshal writes the request into b, which must hold RequestSize bytes.
func (r Request) Marshal(b []byte) {
	_ = b[RequestSize-1]
	copy(b[0:4], Magic)
	b[4] = byte(r.Op)
	b[5], b[6], b[7] = 0, 0, 0
	binary.BigEndian.PutUint64(b[8:16], r.Bytes)
}

// ParseRequest validates a request read from the wire; max bounds Bytes.
func ParseRequest(b []byte, max uint64) (Request, error) {
	if len(b) != RequestSize || string(b[0:4]) != Magic || b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return Request{}, ErrBadRequest
	}
	r := Request{Op: Op(b[4]), Bytes: binary.BigEndian.Uint64(b[8:16])}
	if r.Op != Get && r.Op != Put {
		return Request{}, ErrBadRequest
	}
	if r.Bytes > max {
		return Request{}, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, r.Bytes, max)
	}
	return r, nil
}
