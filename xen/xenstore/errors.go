// Errors: XS_ERROR replies mapped to xen.Errno, and the connection failures.

package xenstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tamaxen/tamaxen/xen"
)

// xsdErrors is the xsd_errors table of io/xs_wire.h: the daemon sends errors as the errno's
// name rather than its number, for portability between operating systems.
var xsdErrors = map[string]xen.Errno{
	"EINVAL":    xen.EINVAL,
	"EACCES":    xen.EACCES,
	"EEXIST":    xen.EEXIST,
	"EISDIR":    xen.EISDIR,
	"ENOENT":    xen.ENOENT,
	"ENOMEM":    xen.ENOMEM,
	"ENOSPC":    xen.ENOSPC,
	"EIO":       xen.EIO,
	"ENOTEMPTY": xen.ENOTEMPTY,
	"ENOSYS":    xen.ENOSYS,
	"EROFS":     xen.EROFS,
	"EBUSY":     xen.EBUSY,
	"EAGAIN":    xen.EAGAIN,
	"EISCONN":   xen.EISCONN,
	"E2BIG":     xen.E2BIG,
	"EPERM":     xen.EPERM,
	// Not in xsd_errors: oxenstored answers "EQUOTA" when a domain exceeds a quota, where the
	// C daemon answers ENOSPC or E2BIG. It is the same condition, and retrying does not help.
	"EQUOTA": xen.ENOSPC,
}

// maxErrorName bounds the error string we keep from a reply; the known names are short, and a
// longer string is either oxenstored's "EINVAL: explanation" form (cut at the colon) or garbage.
const maxErrorName = 64

// errnoFromName maps an error string of an XS_ERROR reply. oxenstored may append ": reason" to
// the name, so only the part before the first colon is looked up. Unknown names map to EINVAL,
// as Linux's xenbus does, because new errors may be appended to xsd_errors at any time.
func errnoFromName(s string) xen.Errno {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	if e, ok := xsdErrors[strings.TrimSpace(s)]; ok {
		return e
	}
	return xen.EINVAL
}

// Error is a request the daemon refused with XS_ERROR, or one refused locally before it was
// sent (a path or payload over the protocol limits). errors.Is(err, xen.ENOENT) and friends
// work through Unwrap; Temporary says whether sending the same request again may succeed.
type Error struct {
	Op    MsgType   // request type
	Path  string    // path the request named, if any
	Name  string    // the daemon's error string, e.g. "ENOENT"; empty for local refusals
	Errno xen.Errno // Name mapped through xsd_errors
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("xenstore: ")
	b.WriteString(e.Op.String())
	if e.Path != "" {
		b.WriteByte(' ')
		b.WriteString(e.Path)
	}
	b.WriteString(": ")
	if e.Name != "" && e.Name != errnoName(e.Errno) {
		fmt.Fprintf(&b, "%q (%s)", e.Name, errnoName(e.Errno))
	} else {
		b.WriteString(errnoName(e.Errno))
	}
	return b.String()
}

// errnoName is the Errno's name without the "xen: " prefix Errno.Error adds.
func errnoName(e xen.Errno) string { return strings.TrimPrefix(e.Error(), "xen: ") }

func (e *Error) Unwrap() error { return e.Errno }

// Temporary reports whether retrying may succeed (EAGAIN after a transaction conflict, EBUSY).
func (e *Error) Temporary() bool { return e.Errno.Temporary() }

// Temporary reports whether err carries an Errno that a retry may cure. Connection failures
// (xen.ErrBroken, xen.ErrClosed) are not temporary: the client stays failed.
func Temporary(err error) bool {
	var e xen.Errno
	return errors.As(err, &e) && e.Temporary()
}

// refuse builds the error for a request rejected before it reached the daemon.
func refuse(op MsgType, path string, errno xen.Errno) error {
	return &Error{Op: op, Path: path, Errno: errno}
}

// brokenf builds the error a connection fails with when the daemon breaks the protocol.
func brokenf(format string, args ...any) error {
	return fmt.Errorf("xenstore: %w: %s", xen.ErrBroken, fmt.Sprintf(format, args...))
}
