// Free disk space where statfs(2) tells it, for doctor.

//go:build linux || darwin || freebsd

package cli

import "syscall"

func freeBytes(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}
