// Free disk space elsewhere: unknown, and doctor says so.

//go:build !(linux || darwin || freebsd)

package cli

import "errors"

func freeBytes(string) (uint64, error) {
	return 0, errors.New("free space unknown on this system")
}
