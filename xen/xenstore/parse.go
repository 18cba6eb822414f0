// Validation and decoding of reply payloads and watch events the daemon sends.

package xenstore

import (
	"bytes"
	"fmt"
	"strconv"
)

// splitStrings splits a payload made of NUL-terminated strings, as XS_DIRECTORY and
// XS_GET_PERMS replies and XS_WATCH_EVENT messages are. An empty payload is an empty list.
// Every string must be terminated and non-empty: an empty string can only come from a missing
// terminator or a doubled NUL, and accepting it would hand callers a path component of "".
func splitStrings(b []byte) ([]string, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if b[len(b)-1] != 0 {
		return nil, fmt.Errorf("string list not NUL-terminated")
	}
	n := bytes.Count(b, []byte{0})
	out := make([]string, 0, n)
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i == 0 {
			return nil, fmt.Errorf("empty string in list")
		}
		out = append(out, string(b[:i]))
		b = b[i+1:]
	}
	return out, nil
}

// trimNUL drops one trailing NUL. Daemons differ on whether a single-string reply such as "OK"
// or a transaction id carries its terminator, so both forms are accepted.
func trimNUL(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == 0 {
		return b[:len(b)-1]
	}
	return b
}

// parseOK validates the acknowledgement of a request that returns nothing ("OK").
func parseOK(b []byte) error {
	if string(trimNUL(b)) != "OK" {
		return fmt.Errorf("acknowledgement %q is not OK", truncate(b))
	}
	return nil
}

// parseTxID decodes the reply to XS_TRANSACTION_START: a decimal id. Zero is rejected because
// tx_id 0 means "no transaction" and would silently run the caller's updates outside it.
func parseTxID(b []byte) (uint32, error) {
	s := trimNUL(b)
	id, err := strconv.ParseUint(string(s), 10, 32)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("bad transaction id %q", truncate(b))
	}
	return uint32(id), nil
}

// parseErrorName decodes the payload of an XS_ERROR reply: one string, the errno's name.
func parseErrorName(b []byte) (string, error) {
	s := trimNUL(b)
	if len(s) == 0 || bytes.IndexByte(s, 0) >= 0 {
		return "", fmt.Errorf("malformed error reply %q", truncate(b))
	}
	if len(s) > maxErrorName {
		s = s[:maxErrorName]
	}
	return string(s), nil
}

// parseWatchEvent decodes an XS_WATCH_EVENT payload: exactly the path that changed and the
// token the watch was registered with, each NUL-terminated (XS_WATCH_PATH, XS_WATCH_TOKEN).
func parseWatchEvent(b []byte) (path, token string, err error) {
	parts, err := splitStrings(b)
	if err != nil {
		return "", "", fmt.Errorf("watch event: %v", err)
	}
	if len(parts) != 2 {
		return "", "", fmt.Errorf("watch event has %d strings, want 2", len(parts))
	}
	return parts[XS_WATCH_PATH], parts[XS_WATCH_TOKEN], nil
}

// reply is a validated reply, decoded according to the request it answers.
type reply struct {
	errName string   // XS_ERROR: the error string
	value   []byte   // XS_READ
	list    []string // XS_DIRECTORY
	perms   []Perm   // XS_GET_PERMS
	txID    uint32   // XS_TRANSACTION_START
}

// decodeReply validates the payload of a reply of type t to a request of type op. A reply of
// any other type than op or XS_ERROR is a protocol violation.
func decodeReply(op, t MsgType, payload []byte) (reply, error) {
	var r reply
	var err error
	switch {
	case t == XS_ERROR:
		r.errName, err = parseErrorName(payload)
	case t != op:
		err = fmt.Errorf("%v reply to %v request", t, op)
	case op == XS_READ:
		r.value = payload
	case op == XS_DIRECTORY:
		r.list, err = splitStrings(payload)
	case op == XS_GET_PERMS:
		r.perms, err = parsePermList(payload)
	case op == XS_TRANSACTION_START:
		r.txID, err = parseTxID(payload)
	default:
		err = parseOK(payload)
	}
	return r, err
}

// truncate keeps error messages about garbage short.
func truncate(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}
