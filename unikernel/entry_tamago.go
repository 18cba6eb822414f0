// The boot timeline's clock on Xen: time since the PVH entry point.

//go:build tamago && amd64

package unikernel

import (
	"time"

	"github.com/tamaxen/tamaxen/board/xenpvh"
)

func sinceEntry() time.Duration { return xenpvh.SinceEntry() }
