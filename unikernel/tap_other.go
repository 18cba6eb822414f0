//go:build !linux && !tamago

package unikernel

import (
	"errors"

	"github.com/tamaxen/tamaxen/xen/sim/netback"
)

type tapLink struct{}

func openTap(string, *netback.Backend) (*tapLink, error) {
	return nil, errors.New("tap: only on Linux")
}

func (*tapLink) close() {}
