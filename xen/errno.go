// Xen errno values (xen/include/public/errno.h) as a typed error.

package xen

import "fmt"

// Errno is a Xen error number, the negation of a failed hypercall's return value.
type Errno int32

// Xen errno values used by the packages; the numbering follows errno.h (it matches Linux's).
const (
	EPERM         Errno = 1
	ENOENT        Errno = 2
	ESRCH         Errno = 3
	EINTR         Errno = 4
	EIO           Errno = 5
	ENXIO         Errno = 6
	E2BIG         Errno = 7
	ENOEXEC       Errno = 8
	EBADF         Errno = 9
	ECHILD        Errno = 10
	EAGAIN        Errno = 11
	ENOMEM        Errno = 12
	EACCES        Errno = 13
	EFAULT        Errno = 14
	EBUSY         Errno = 16
	EEXIST        Errno = 17
	EXDEV         Errno = 18
	ENODEV        Errno = 19
	EISDIR        Errno = 21
	EINVAL        Errno = 22
	ENFILE        Errno = 23
	EMFILE        Errno = 24
	ENOSPC        Errno = 28
	EROFS         Errno = 30
	EMLINK        Errno = 31
	EDOM          Errno = 33
	ERANGE        Errno = 34
	EDEADLK       Errno = 35
	ENAMETOOLONG  Errno = 36
	ENOLCK        Errno = 37
	ENOSYS        Errno = 38
	ENOTEMPTY     Errno = 39
	ENODATA       Errno = 61
	ETIME         Errno = 62
	EBADMSG       Errno = 74
	EOVERFLOW     Errno = 75
	EILSEQ        Errno = 84
	ERESTART      Errno = 85
	ENOTSOCK      Errno = 88
	EOPNOTSUPP    Errno = 95
	EADDRINUSE    Errno = 98
	EADDRNOTAVAIL Errno = 99
	ENOBUFS       Errno = 105
	EISCONN       Errno = 106
	ENOTCONN      Errno = 107
	ETIMEDOUT     Errno = 110
	ECONNREFUSED  Errno = 111
)

var errnoNames = map[Errno]string{
	EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EINTR: "EINTR", EIO: "EIO", ENXIO: "ENXIO",
	E2BIG: "E2BIG", ENOEXEC: "ENOEXEC", EBADF: "EBADF", ECHILD: "ECHILD", EAGAIN: "EAGAIN",
	ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST",
	EXDEV: "EXDEV", ENODEV: "ENODEV", EISDIR: "EISDIR", EINVAL: "EINVAL", ENFILE: "ENFILE",
	EMFILE: "EMFILE", ENOSPC: "ENOSPC", EROFS: "EROFS", EMLINK: "EMLINK", EDOM: "EDOM",
	ERANGE: "ERANGE", EDEADLK: "EDEADLK", ENAMETOOLONG: "ENAMETOOLONG", ENOLCK: "ENOLCK",
	ENOSYS: "ENOSYS", ENOTEMPTY: "ENOTEMPTY", ENODATA: "ENODATA", ETIME: "ETIME",
	EBADMSG: "EBADMSG", EOVERFLOW: "EOVERFLOW", EILSEQ: "EILSEQ", ERESTART: "ERESTART",
	ENOTSOCK: "ENOTSOCK", EOPNOTSUPP: "EOPNOTSUPP", EADDRINUSE: "EADDRINUSE",
	EADDRNOTAVAIL: "EADDRNOTAVAIL", ENOBUFS: "ENOBUFS", EISCONN: "EISCONN",
	ENOTCONN: "ENOTCONN", ETIMEDOUT: "ETIMEDOUT", ECONNREFUSED: "ECONNREFUSED",
}

func (e Errno) Error() string {
	if n, ok := errnoNames[e]; ok {
		return "xen: " + n
	}
	return fmt.Sprintf("xen: errno %d", int32(e))
}

// Temporary reports whether retrying the same call may succeed.
func (e Errno) Temporary() bool { return e == EAGAIN || e == EINTR || e == EBUSY || e == ERESTART }

// FromResult converts a raw hypercall return value: negative values become an Errno.
func FromResult(rc int64) error {
	if rc < 0 {
		return Errno(-rc)
	}
	return nil
}
